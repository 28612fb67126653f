"""Analytics events for segment tests, built without the products that emit them (some
are declared by packages of the same issue), and the two analytics stores."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ccare.core.analytics import AnalyticsStore

PG_URL = os.environ.get("CCARE_TEST_DATABASE_URL", "")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


@dataclass(frozen=True)
class Event:
    """What `AnalyticsStore.record` reads of a domain event."""

    type: str
    merchant_id: int | None
    consumer_id: int | None
    occurred_at: datetime
    amount: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: f"seg{next(_ids):029d}")

    def payload(self) -> dict[str, Any]:
        return {"merchant_id": self.merchant_id, "consumer_id": self.consumer_id, **self.fields}


def _ev(
    kind: str,
    consumer: int,
    days_ago: float,
    merchant: int = 1,
    amount: int | None = None,
    now: datetime = NOW,
    **fields: Any,
) -> Event:
    return Event(kind, merchant, consumer, now - timedelta(days=days_ago), amount, fields)


def record(store: AnalyticsStore, events: list[Event]) -> None:
    store.record(events)  # type: ignore[arg-type]


def world(m1: int = 1, m2: int = 2, now: datetime = NOW) -> list[Event]:
    """A known world: m1's customers are consumers 10-14; m2's are 10 and 20."""

    def ev(kind: str, consumer: int, days_ago: float, merchant: int = m1, **kw: Any) -> Event:
        return _ev(kind, consumer, days_ago, merchant, now=now, **kw)

    return [
        ev("order.paid", 10, 1, amount=3000, mini_program_id=12, order_id=1),
        ev("order.paid", 10, 5, amount=2000, mini_program_id=13, order_id=2),
        ev("order.paid", 10, 20, amount=1500, mini_program_id=13, order_id=3),
        ev("coupon.claimed", 10, 25, activity_id=3, coupon_id=100, channel="offline_qr"),
        ev("coupon.used", 10, 20, activity_id=3, coupon_id=100, order_id=3, discount_fen=500),
        ev("favorite.added", 10, 10, mini_program_id=12, channel="home"),
        ev("order.paid", 11, 40, amount=900, mini_program_id=12, order_id=4),
        ev("favorite.added", 11, 50, mini_program_id=12, channel="home"),
        ev("favorite.removed", 11, 5, mini_program_id=12, channel=None),
        ev("coupon.claimed", 11, 30, activity_id=3, coupon_id=101, channel="api"),
        ev("storefront.visited", 12, 2, mini_program_id=12, channel="search"),
        ev(
            "customer.event", 12, 3, name="share", channel="wechat", external_id="e1", properties={}
        ),
        ev("coupon.claimed", 13, 60, activity_id=4, coupon_id=102, channel="api"),
        ev("coupon.expired", 13, 1, activity_id=4, coupon_id=102, code="x"),
        ev("favorite.added", 13, 3, mini_program_id=13, channel="home"),
        ev("coupon.claimed", 14, 9, activity_id=3, coupon_id=103, channel="api"),
        ev("coupon.used", 14, 8, activity_id=3, coupon_id=103, order_id=9, discount_fen=500),
        ev(
            "coupon.released",
            14,
            7,
            activity_id=3,
            coupon_id=103,
            order_id=9,
            reason="refunded",
            status="available",
        ),
        ev("order.paid", 10, 2, merchant=m2, amount=100, mini_program_id=99, order_id=5),
        *[
            ev("order.paid", 20, d, merchant=m2, amount=100, mini_program_id=99, order_id=6 + d)
            for d in range(5)
        ],
        Event(
            "consumer.registered",
            None,
            10,
            now - timedelta(days=400),
            fields={"city": "Hangzhou", "member_level": "gold"},
        ),
    ]


WORLD = world()
