"""Coupons follow their order: used when it is paid, back when it closes unpaid or is
refunded in full (per the activity's refund policy). Each reaction is idempotent: a
coupon changes only from the state the event expects."""

from typing import Any

from sqlalchemy.orm import Session

from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.subscribers import subscriber
from ccare.core.worker import poller
from ccare.coupons import redemption, service


@subscriber("order.paid", name="coupons.use_on_pay")
def use_on_pay(session: Session, event: Any) -> None:
    redemption.use(session, int(event.order_id), now=event.occurred_at)


@subscriber("order.closed", name="coupons.release_on_close")
def release_on_close(session: Session, event: Any) -> None:
    redemption.release(session, int(event.order_id), "closed", now=event.occurred_at)


@subscriber("order.refunded", name="coupons.return_on_refund")
def return_on_refund(session: Session, event: Any) -> None:
    if event.fully_refunded:
        redemption.release(session, int(event.order_id), "refunded", now=event.occurred_at)


@poller("coupons.expire")
def expire(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    with db.transaction() as session:
        return redemption.expire_due(session) + service.expire_activities(session)
