"""Subscriber registry and idempotent dispatch of delivered events.

Products register handlers in their tasks.py:

    @subscriber("order.paid", name="catalog.count_sales")
    def count_sales(session, event: OrderPaid) -> None: ...

Each handler runs in its own transaction together with a ProcessedEvent row, so a
redelivered event is skipped and a failed handler leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ccare.core.db import Database
from ccare.core.events import DomainEvent
from ccare.core.outbox import ProcessedEvent

log = logging.getLogger(__name__)

Handler = Callable[[Session, Any], None]


@dataclass(frozen=True)
class Subscription:
    name: str
    event_type: str
    handler: Handler


_SUBSCRIPTIONS: dict[str, Subscription] = {}


def subscriber(event_type: str, *, name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        existing = _SUBSCRIPTIONS.get(name)
        if existing and existing.handler is not fn:
            raise RuntimeError(f"subscriber {name} registered twice")
        _SUBSCRIPTIONS[name] = Subscription(name, event_type, fn)
        return fn

    return register


def subscriptions_for(event_type: str) -> list[Subscription]:
    return [s for s in _SUBSCRIPTIONS.values() if s.event_type in (event_type, "*")]


def already_processed(session: Session, subscriber_name: str, event_id: str) -> bool:
    stmt = select(ProcessedEvent.event_id).where(
        ProcessedEvent.subscriber == subscriber_name, ProcessedEvent.event_id == event_id
    )
    return session.execute(stmt).first() is not None


def deliver(db: Database, domain_event: DomainEvent) -> list[str]:
    """Run every matching subscriber once; returns the names that failed."""
    failed: list[str] = []
    for sub in subscriptions_for(domain_event.type):
        try:
            with db.transaction() as session:
                if already_processed(session, sub.name, domain_event.event_id):
                    continue
                session.add(ProcessedEvent(subscriber=sub.name, event_id=domain_event.event_id))
                sub.handler(session, domain_event)
        except Exception:
            log.exception("subscriber %s failed on %s", sub.name, domain_event.event_id)
            failed.append(sub.name)
    return failed
