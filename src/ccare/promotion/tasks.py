"""The promotion platform's worker jobs: last-click attribution of paid orders, and the
online learning of the pCTR and pCVR models from the logs."""

from __future__ import annotations

import time

from sqlalchemy.orm import Session

from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.subscribers import subscriber
from ccare.core.time import utcnow
from ccare.core.worker import poller
from ccare.orders.schemas import OrderPaid
from ccare.promotion import learning, tracking

LEARN_EVERY_SECONDS = 60.0

_next_learning: dict[str, float] = {}


@subscriber("order.paid", name="promotion.attribute_order")
def attribute_order(session: Session, event: OrderPaid) -> None:
    if event.merchant_id is None or event.consumer_id is None:
        return
    tracking.attribute_order(
        session,
        merchant_id=event.merchant_id,
        consumer_id=event.consumer_id,
        order_id=event.order_id,
        amount_fen=event.amount,
        paid_at=event.occurred_at,
    )


@poller("promotion.learning")
def learn(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    now = time.monotonic()
    if now < _next_learning.get(db.url, 0.0):
        return 0
    with db.transaction() as session:
        learned = learning.learn_clicks(session, utcnow())
    with db.transaction() as session:
        learned += learning.learn_conversions(session, utcnow())
    if not learned:
        _next_learning[db.url] = now + LEARN_EVERY_SECONDS
    return learned
