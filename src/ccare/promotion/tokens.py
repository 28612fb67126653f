"""Signed, timed tokens for impressions and clicks (itsdangerous, HMAC-SHA256).

A decision returns one impression token and one click token per ad. The impression token
carries everything the impression row needs, so serving writes nothing; the click token
only names the impression, which must have been recorded first. A token signed with
another key, altered, or used for the other purpose fails verification.
"""

from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ccare.core.errors import DomainError, InvalidInput

IMPRESSION_MAX_AGE = 30 * 60  # a page shown later than this is not a fresh impression
CLICK_MAX_AGE = 24 * 3600


class TokenExpired(DomainError):
    status_code = 410
    code = "promotion.token_expired"


def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        secret, salt=f"ccare.ad.{purpose}", signer_kwargs={"digest_method": hashlib.sha256}
    )


def sign(secret: str, purpose: str, payload: dict[str, Any]) -> str:
    return str(_serializer(secret, purpose).dumps(payload))


def verify(secret: str, purpose: str, token: str, max_age: int) -> dict[str, Any]:
    try:
        payload = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenExpired(f"this {purpose} token has expired") from exc
    except BadSignature as exc:
        raise InvalidInput(f"not a valid {purpose} token", code="promotion.token_invalid") from exc
    if not isinstance(payload, dict):
        raise InvalidInput(f"not a valid {purpose} token", code="promotion.token_invalid")
    return payload
