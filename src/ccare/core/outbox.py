"""Transactional outbox: events are rows written in the caller's transaction.

Nothing leaves the process before commit. After a commit that wrote events, the
registered wake-up callbacks run (the in-process worker uses one to relay at once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from ccare.core.db import Base, IdMixin
from ccare.core.events import DomainEvent
from ccare.core.time import utcnow


class OutboxEvent(IdMixin, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_pending", "published_at", "next_attempt_at"),)

    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    merchant_id: Mapped[int | None]
    consumer_id: Mapped[int | None]
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))


class ProcessedEvent(Base):
    """(subscriber, event) pairs already handled: makes every subscriber idempotent."""

    __tablename__ = "processed_events"

    subscriber: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


def emit(session: Session, domain_event: DomainEvent) -> None:
    session.add(
        OutboxEvent(
            event_id=domain_event.event_id,
            type=domain_event.type,
            merchant_id=domain_event.merchant_id,
            consumer_id=domain_event.consumer_id,
            payload=domain_event.payload(),
            occurred_at=domain_event.occurred_at,
        )
    )
    session.info["outbox_dirty"] = True


_wakeups: list[Callable[[], None]] = []
_lock = threading.Lock()


def on_commit_wakeup(callback: Callable[[], None]) -> Callable[[], None]:
    with _lock:
        _wakeups.append(callback)

    def remove() -> None:
        with _lock:
            if callback in _wakeups:
                _wakeups.remove(callback)

    return remove


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop("outbox_dirty", False):
        for callback in list(_wakeups):
            callback()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("outbox_dirty", None)
