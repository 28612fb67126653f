"""Event subscribers and periodic jobs: conversions from paid orders, each new consumer's
time zone, the broadcast fan-out and the release of messages held by quiet hours."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.subscribers import subscriber
from ccare.core.time import utcnow
from ccare.core.worker import poller
from ccare.messages import fanout, sending, service


@subscriber("order.paid", name="messages.convert_on_pay")
def convert_on_pay(session: Session, event: Any) -> None:
    if event.merchant_id is None or event.consumer_id is None:
        return
    service.convert(
        session,
        int(event.merchant_id),
        int(event.consumer_id),
        int(event.order_id),
        int(event.amount),
        event.occurred_at,
    )


@subscriber("consumer.registered", name="messages.learn_time_zone")
def learn_time_zone(session: Session, event: Any) -> None:
    if event.consumer_id is not None:
        service.learn_zone(session, int(event.consumer_id), getattr(event, "city", None))


@poller("messages.fanout")
def fan_out(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    return fanout.poll(db)


@poller("messages.release_due")
def release_due(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    with db.transaction() as session:
        return sending.release_due(session, utcnow())
