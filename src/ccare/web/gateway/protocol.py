"""The v1 wire format: parameters in, the signed envelope out.

Parameters come from the query string and a form body together (the official SDK puts the
common ones in the query and `biz_content` in the body; fzlee's sends everything in the
query of a GET), percent-decoded in the call's `charset`. Answers are
`{"<method>_response":{...},"sign":"..."}` with the signature over exactly the bytes of the
inner object, which clients cut out of the body by pattern (docs/reference/alipay-sdks.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes

from pydantic import BaseModel, ValidationError

from ccare.core.signing import PrivateKey, sign
from ccare.web.gateway.errors import AlipayError, invalid

# Python codec per accepted charset; GB2312 text is a subset of GBK.
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}
FORM = "application/x-www-form-urlencoded"

B = TypeVar("B", bound=BaseModel)


def _pairs(data: bytes) -> list[tuple[bytes, bytes]]:
    pairs = []
    for part in data.split(b"&"):
        if part:
            key, _, value = part.partition(b"=")
            pairs.append((key, value))
    return pairs


def _decode(raw: bytes, codec: str) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode(codec)


def codec_of(pairs: list[tuple[bytes, bytes]]) -> str:
    """The Python codec for the call's `charset` (itself plain ASCII), utf-8 by default."""
    sent = next((_decode(v, "latin-1") for k, v in pairs if k == b"charset"), "") or "utf-8"
    codec = CHARSETS.get(sent.strip().lower())
    if codec is None:
        raise invalid("isv.invalid-charset", f"charset {sent!r} is not utf-8, gbk or gb2312")
    return codec


def parse_params(query: bytes, body: bytes, content_type: str) -> tuple[dict[str, str], str]:
    """Every parameter of the call, and the codec its text (and the answer) is in."""
    pairs = _pairs(query)
    media = content_type.split(";", 1)[0].strip().lower()
    if body.strip():
        if media not in ("", FORM):
            raise invalid("isv.invalid-parameter", f"send parameters as {FORM}, not {media}")
        pairs += _pairs(body)
    codec = codec_of(pairs)
    params: dict[str, str] = {}
    try:
        for raw_key, raw_value in pairs:
            key, value = _decode(raw_key, codec), _decode(raw_value, codec)
            if params.get(key, value) != value:
                raise invalid("isv.invalid-parameter", f"parameter {key!r} is given twice")
            params[key] = value
    except UnicodeDecodeError:
        raise invalid("isv.invalid-charset", f"the parameters are not valid {codec}") from None
    return params, codec


# --- biz_content ---------------------------------------------------------------------------


def validation_error(exc: ValidationError) -> AlipayError:
    """The first problem, naming the field: 40001 when it is missing, else 40002."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    if first.get("type") == "missing":
        text = f"missing required parameter {field}" if field else str(first.get("msg"))
        return AlipayError("40001", "isv.missing-parameter", text)
    text = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    return AlipayError("40002", "isv.invalid-parameter", text)


def parse_biz(model: type[B], text: str | None) -> B:
    try:
        # Decimals, so "total_amount": 88.88 arrives exactly as written.
        data = json.loads(text, parse_float=Decimal) if text else {}
    except (ValueError, RecursionError):
        raise AlipayError(
            "40002", "isv.invalid-parameter", "biz_content is not valid JSON"
        ) from None
    if not isinstance(data, dict):
        raise AlipayError("40002", "isv.invalid-parameter", "biz_content must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


# --- the answer ----------------------------------------------------------------------------


def dumps(value: Any, *, ascii_only: bool) -> str:
    """Compact JSON with `{` and `}` inside strings escaped, so that clients which find the
    signed object by counting braces (fzlee's SDK) see exactly its structure."""
    if isinstance(value, Mapping):
        members = (
            f"{dumps(str(k), ascii_only=ascii_only)}:{dumps(v, ascii_only=ascii_only)}"
            for k, v in value.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v, ascii_only=ascii_only) for v in value) + "]"
    text = json.dumps(value, ensure_ascii=ascii_only)
    if isinstance(value, str):
        text = text.replace("{", "\\u007b").replace("}", "\\u007d")
    return text


def envelope(response_key: str, payload: Mapping[str, Any], key: PrivateKey, codec: str) -> bytes:
    inner = dumps(payload, ascii_only=codec != "utf-8").encode(codec)
    signature = sign(key, inner)
    return b'{"' + response_key.encode() + b'":' + inner + b',"sign":"' + signature.encode() + b'"}'


def response_key(method: str) -> str:
    return method.replace(".", "_") + "_response"
