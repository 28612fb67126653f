"""Idempotency keys for money-moving calls.

Same key + same body -> the stored response; same key + different body -> 409. The key
row is written in the same transaction as the effect, so a rolled-back call leaves no
key behind and a concurrent duplicate fails on the unique constraint (409, retry).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ccare.core.db import Base, IdMixin
from ccare.core.errors import Conflict, InvalidInput
from ccare.core.time import utcnow

MAX_KEY_LENGTH = 64


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def request_fingerprint(operation: str, body: Any) -> str:
    canonical = json.dumps([operation, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str | None) -> str:
    if not key or not key.strip():
        raise InvalidInput("Idempotency-Key header is required", code="idempotency.key_missing")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            code="idempotency.key_invalid",
        )
    return key


def lookup(session: Session, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    ).first()
    if record is not None and record.request_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was used with a different request",
            code="idempotency.key_reused",
        )
    return record


def remember(
    session: Session, scope: str, key: str, fingerprint: str, status_code: int, response: Any
) -> None:
    session.add(
        IdempotencyRecord(
            scope=scope,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response=response,
        )
    )


@dataclass(frozen=True)
class Outcome:
    data: Any
    status_code: int
    replayed: bool


def execute_once(
    session: Session,
    scope: str,
    key: str,
    operation: str,
    body: Any,
    produce: Callable[[], Any],
    status_code: int = 200,
) -> Outcome:
    """Run `produce` at most once per (scope, key); `body` and its result must be JSON-able."""
    fingerprint = request_fingerprint(operation, body)
    record = lookup(session, scope, key, fingerprint)
    if record is not None:
        return Outcome(record.response, record.status_code, replayed=True)
    data = produce()
    remember(session, scope, key, fingerprint, status_code, data)
    return Outcome(data, status_code, replayed=False)
