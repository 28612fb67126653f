"""Signed, timed tokens for impressions and clicks (itsdangerous, HMAC-SHA256).

A decision returns one impression token and one click token per ad. The impression token
carries everything the impression row needs, so serving writes nothing; the click token
only names the impression, which must have been recorded first. A token signed with
another key, altered, or used for the other purpose fails verification.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from ccare.core.errors import DomainError, InvalidInput

IMPRESSION_MAX_AGE = 30 * 60  # a page shown later than this is not a fresh impression
CLICK_MAX_AGE = 24 * 3600


class TokenExpired(DomainError):
    status_code = 410
    code = "promotion.token_expired"


@lru_cache(maxsize=16)
def _signer(secret: str, purpose: str) -> TimestampSigner:
    # One signer per key and purpose: the serializer's per-call signer (key derivation) and
    # compression attempt cost six times the signature, and a decision signs six tokens.
    return TimestampSigner(secret, salt=f"ccare.ad.{purpose}", digest_method=hashlib.sha256)


def sign(secret: str, purpose: str, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return _signer(secret, purpose).sign(body.rstrip(b"=")).decode()


def verify(secret: str, purpose: str, token: str, max_age: int) -> dict[str, Any]:
    try:
        body = _signer(secret, purpose).unsign(token, max_age=max_age)
        payload = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
    except SignatureExpired as exc:
        raise TokenExpired(f"this {purpose} token has expired") from exc
    except (BadSignature, ValueError) as exc:
        raise InvalidInput(f"not a valid {purpose} token", code="promotion.token_invalid") from exc
    if not isinstance(payload, dict):
        raise InvalidInput(f"not a valid {purpose} token", code="promotion.token_invalid")
    return payload
