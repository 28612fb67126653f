"""Cryptographic primitives of the open platform: keys, signatures, the signed texts.

Pure functions on `cryptography`; no database, no HTTP. Two protocols share them:

- Alipay v1 (`/gateway.do`): RSA2 = SHA256withRSA (PKCS#1 v1.5) over the sorted
  `k=v&k=v` string of the request parameters (`v1_content`, `v1_verify`).
- The native scheme (v3 style): an `Authorization` header signing
  `app_id=..,nonce=..,timestamp=..\\nMETHOD\\npath?query\\nbody\\n[token\\n]`
  (`native_content`, `authorization_header`, `parse_authorization`) and response
  signatures over `timestamp\\nnonce\\nbody\\n` (`response_content`).

Keys are accepted in every format merchants actually hold: PEM PKCS#1, PEM PKCS#8/SPKI,
or the bare base64 DER that Alipay's key tool prints.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from ccare.core.errors import InvalidInput

__all__ = [
    "AUTH_SCHEMES",
    "Authorization",
    "PrivateKey",
    "PublicKey",
    "SignAlgorithm",
    "algorithm_of",
    "authorization_header",
    "export_private_key",
    "export_public_key",
    "fingerprint",
    "generate_private_key",
    "load_private_key",
    "load_public_key",
    "native_content",
    "parse_authorization",
    "response_content",
    "sign",
    "v1_content",
    "v1_verify",
    "verify",
]


class SignAlgorithm(StrEnum):
    RSA2 = "RSA2"
    ED25519 = "ED25519"


PublicKey = RSAPublicKey | Ed25519PublicKey
PrivateKey = RSAPrivateKey | Ed25519PrivateKey

MIN_RSA_BITS = 2048

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


# --- keys -----------------------------------------------------------------------------


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, code="key.invalid")


def _unpack(text: str) -> tuple[str | None, bytes]:
    """(PEM label or None for bare base64, DER bytes)."""
    if not isinstance(text, str) or not text.strip():
        raise _invalid("The key is empty.")
    # Keys kept in env files and JSON configs often arrive with literal "\n" sequences;
    # a backslash never occurs in PEM or base64, so unescaping cannot damage a key.
    text = text.replace("\\r", "").replace("\\n", "\n").strip()
    label: str | None = None
    body = text
    if "-----BEGIN" in text:
        match = _PEM_BLOCK.search(text)
        if match is None:
            raise _invalid("The PEM block is incomplete (no matching END line).")
        label, body = match.group(1), match.group(2)
        if ":" in body:
            raise _invalid("Encrypted PEM keys are not supported; paste the unencrypted key.")
    try:
        der = base64.b64decode(_WHITESPACE.sub("", body), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("The key is neither PEM nor base64.") from None
    if not der:
        raise _invalid("The key is empty.")
    return label, der


def _check_strength(key: PublicKey | PrivateKey) -> None:
    if isinstance(key, RSAPublicKey | RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise InvalidInput(
            f"RSA keys must have at least {MIN_RSA_BITS} bits; this one has {key.key_size}.",
            code="key.too_weak",
        )


def _looks_private(der: bytes) -> bool:
    try:
        serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


_PRIVATE_GIVEN = "This is a private key: paste the public key only and keep the private one secret."


def load_public_key(text: str) -> PublicKey:
    """Parse an RSA (PKCS#1 or SPKI) or Ed25519 (SPKI) public key, PEM or bare base64 DER."""
    label, der = _unpack(text)
    if label is not None and "PRIVATE KEY" in label:
        raise InvalidInput(_PRIVATE_GIVEN, code="key.private_given")
    if label not in (None, "PUBLIC KEY", "RSA PUBLIC KEY"):
        raise _invalid(f"Expected a public key, got a PEM block of type {label!r}.")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        if label is None and _looks_private(der):
            raise InvalidInput(_PRIVATE_GIVEN, code="key.private_given") from None
        raise _invalid("The public key could not be parsed.") from None
    if not isinstance(key, RSAPublicKey | Ed25519PublicKey):
        raise _invalid("Only RSA and Ed25519 keys are supported.")
    _check_strength(key)
    return key


def load_private_key(text: str) -> PrivateKey:
    """Parse an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key, PEM or bare base64."""
    label, der = _unpack(text)
    if label == "ENCRYPTED PRIVATE KEY":
        raise _invalid("Encrypted private keys are not supported; paste the unencrypted key.")
    if label not in (None, "PRIVATE KEY", "RSA PRIVATE KEY"):
        raise _invalid(f"Expected a private key, got a PEM block of type {label!r}.")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise _invalid("The private key could not be parsed.") from None
    if not isinstance(key, RSAPrivateKey | Ed25519PrivateKey):
        raise _invalid("Only RSA and Ed25519 keys are supported.")
    _check_strength(key)
    return key


def algorithm_of(key: PublicKey | PrivateKey) -> SignAlgorithm:
    if isinstance(key, RSAPublicKey | RSAPrivateKey):
        return SignAlgorithm.RSA2
    if isinstance(key, Ed25519PublicKey | Ed25519PrivateKey):
        return SignAlgorithm.ED25519
    raise _invalid("Only RSA and Ed25519 keys are supported.")


def generate_private_key(algorithm: SignAlgorithm, rsa_bits: int = 2048) -> PrivateKey:
    if algorithm is SignAlgorithm.ED25519:
        return Ed25519PrivateKey.generate()
    if rsa_bits < MIN_RSA_BITS:
        raise InvalidInput(f"RSA keys must have at least {MIN_RSA_BITS} bits.", code="key.too_weak")
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)


def _spki_der(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _rsa_only(key: PublicKey | PrivateKey) -> None:
    if not isinstance(key, RSAPublicKey | RSAPrivateKey):
        raise InvalidInput("PKCS#1 exists for RSA keys only.", code="key.format_unsupported")


def export_public_key(key: PublicKey, fmt: Literal["spki", "pkcs1", "base64"] = "spki") -> str:
    """PEM SPKI ("PUBLIC KEY"), PEM PKCS#1 ("RSA PUBLIC KEY"), or bare base64 of SPKI DER."""
    if fmt == "base64":
        return base64.b64encode(_spki_der(key)).decode("ascii")
    if fmt == "pkcs1":
        _rsa_only(key)
        form = serialization.PublicFormat.PKCS1
    elif fmt == "spki":
        form = serialization.PublicFormat.SubjectPublicKeyInfo
    else:
        raise InvalidInput(f"Unknown key format {fmt!r}.", code="key.format_unsupported")
    return key.public_bytes(serialization.Encoding.PEM, form).decode("ascii")


def export_private_key(key: PrivateKey, fmt: Literal["pkcs8", "pkcs1", "base64"] = "pkcs8") -> str:
    """PEM PKCS#8 ("PRIVATE KEY"), PEM PKCS#1 ("RSA PRIVATE KEY"), or base64 of PKCS#8 DER."""
    none = serialization.NoEncryption()
    if fmt == "base64":
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, none)
        return base64.b64encode(der).decode("ascii")
    if fmt == "pkcs1":
        _rsa_only(key)
        form = serialization.PrivateFormat.TraditionalOpenSSL
    elif fmt == "pkcs8":
        form = serialization.PrivateFormat.PKCS8
    else:
        raise InvalidInput(f"Unknown key format {fmt!r}.", code="key.format_unsupported")
    return key.private_bytes(serialization.Encoding.PEM, form, none).decode("ascii")


def fingerprint(key: PublicKey) -> str:
    """A short, stable id for a public key: "SHA256:" + 32 hex digits."""
    return "SHA256:" + hashlib.sha256(_spki_der(key)).digest()[:16].hex()


# --- signatures -----------------------------------------------------------------------


def sign(key: PrivateKey, message: bytes) -> str:
    if isinstance(key, RSAPrivateKey):
        raw = key.sign(message, _PKCS1, _SHA256)
    else:
        raw = key.sign(message)
    return base64.b64encode(raw).decode("ascii")


def verify(key: PublicKey, message: bytes, signature: str) -> bool:
    """True only for a valid signature; any malformed input is simply not valid."""
    try:
        # Strict: only the base64 alphabet with correct padding (b64decode's validate, faster).
        raw = binascii.a2b_base64(signature, strict_mode=True)
    except (binascii.Error, ValueError, TypeError):
        return False
    try:
        if isinstance(key, RSAPublicKey):
            if len(raw) != (key.key_size + 7) // 8:
                return False
            key.verify(raw, message, _PKCS1, _SHA256)
        else:
            if len(raw) != 64:
                return False
            key.verify(raw, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# --- Alipay v1 --------------------------------------------------------------------------


def v1_content(
    params: Mapping[str, str | None],
    *,
    exclude: Collection[str] = ("sign",),
    skip_empty: bool = True,
) -> str:
    """The v1 string to sign: `k=v` sorted by key, joined with `&`, values raw.

    None always means "absent" (it cannot travel in a form); `skip_empty` also drops "".
    """
    pairs = sorted(
        (k, v)
        for k, v in params.items()
        if v is not None and k not in exclude and not (skip_empty and v == "")
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def v1_verify(
    key: PublicKey,
    params: Mapping[str, str | None],
    signature: str,
    *,
    exclude: Collection[str] = ("sign",),
    charset: str = "utf-8",
) -> bool:
    """Verify a v1 signature, accepting both empty-value conventions.

    Java/EasySDK skip empty values when signing, the official Python SDK keeps them; the
    second attempt costs a public-key operation only when some value is actually empty.
    """
    skipped = v1_content(params, exclude=exclude, skip_empty=True)
    try:
        if verify(key, skipped.encode(charset), signature):
            return True
        kept = v1_content(params, exclude=exclude, skip_empty=False)
        return kept != skipped and verify(key, kept.encode(charset), signature)
    except (UnicodeEncodeError, LookupError):
        return False


# --- native scheme ----------------------------------------------------------------------

AUTH_SCHEMES: dict[str, SignAlgorithm] = {
    "CCARE-SHA256withRSA": SignAlgorithm.RSA2,
    "ALIPAY-SHA256withRSA": SignAlgorithm.RSA2,
    "CCARE-ED25519": SignAlgorithm.ED25519,
}
_SCHEME_BY_LOWER = {name.lower(): name for name in AUTH_SCHEMES}
_SCHEME_FOR: dict[SignAlgorithm, str] = {
    SignAlgorithm.RSA2: "CCARE-SHA256withRSA",
    SignAlgorithm.ED25519: "CCARE-ED25519",
}
_NONCE = re.compile(r"[!-+\--~]{16,64}")  # printable ASCII except "," (the field separator)
_TIMESTAMP = re.compile(r"0|[1-9][0-9]{0,15}")
_REQUIRED_FIELDS = ("app_id", "nonce", "timestamp", "sign")


@dataclass(frozen=True)
class Authorization:
    scheme: str
    algorithm: SignAlgorithm
    app_id: str
    nonce: str
    timestamp_ms: int
    sign: str


def _malformed(message: str) -> InvalidInput:
    return InvalidInput(message, code="signature.malformed")


def parse_authorization(value: str) -> Authorization:
    """Parse `<scheme> app_id=..,nonce=..,timestamp=..,sign=..` (field order free)."""
    scheme_text, _, rest = value.strip().partition(" ")
    if not scheme_text:
        raise _malformed("The Authorization header is empty.")
    # Authentication schemes are case-insensitive (RFC 9110 §11.1).
    scheme = _SCHEME_BY_LOWER.get(scheme_text.lower())
    if scheme is None:
        known = ", ".join(AUTH_SCHEMES)
        raise _malformed(f"Unknown authorization scheme {scheme_text!r}; use one of {known}.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        # A base64 signature ends in "=" padding: only the first "=" separates.
        name, eq, field_value = part.partition("=")
        name = name.strip()
        if not eq:
            raise _malformed(f"Authorization field {name!r} has no value.")
        if name in fields:
            raise _malformed(f"Authorization field {name!r} is given twice.")
        fields[name] = field_value.strip()
    for name in _REQUIRED_FIELDS:
        if not fields.get(name):
            raise _malformed(f"Authorization field {name!r} is missing.")
    nonce = fields["nonce"]
    if not _NONCE.fullmatch(nonce):
        raise _malformed("The nonce must be 16 to 64 printable ASCII characters without ','.")
    timestamp = fields["timestamp"]
    if not _TIMESTAMP.fullmatch(timestamp):
        raise _malformed(f"The timestamp {timestamp!r} is not epoch milliseconds.")
    return Authorization(
        scheme=scheme,
        algorithm=AUTH_SCHEMES[scheme],
        app_id=fields["app_id"],
        nonce=nonce,
        timestamp_ms=int(timestamp),
        sign=fields["sign"],
    )


def native_content(
    app_id: str,
    nonce: str,
    timestamp_ms: int,
    method: str,
    path_query: str,
    body: bytes,
    app_auth_token: str | None = None,
) -> bytes:
    """The signed text of a native request.

    `path_query` is the raw request target as sent (still percent-encoded), "?query"
    included only when there is a query string.
    """
    head = (
        f"app_id={app_id},nonce={nonce},timestamp={timestamp_ms}\n{method.upper()}\n{path_query}\n"
    )
    text = head.encode("utf-8") + body + b"\n"
    if app_auth_token is not None:
        text += app_auth_token.encode("utf-8") + b"\n"
    return text


def authorization_header(
    app_id: str,
    key: PrivateKey,
    method: str,
    path_query: str,
    body: bytes,
    app_auth_token: str | None = None,
    *,
    nonce: str | None = None,
    timestamp_ms: int | None = None,
) -> str:
    """The value of the `Authorization` header for a native request signed with `key`."""
    nonce = uuid.uuid4().hex if nonce is None else nonce
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    content = native_content(app_id, nonce, timestamp_ms, method, path_query, body, app_auth_token)
    scheme = _SCHEME_FOR[algorithm_of(key)]
    signature = sign(key, content)
    return f"{scheme} app_id={app_id},nonce={nonce},timestamp={timestamp_ms},sign={signature}"


def response_content(timestamp_ms: int | str, nonce: str, body: bytes) -> bytes:
    """The signed text of a response: `<timestamp>\\n<nonce>\\n<body>\\n`."""
    return f"{timestamp_ms}\n{nonce}\n".encode() + body + b"\n"
