"""Events of the real event classes, at local (UTC+8) times, and a known week of them.

`week()` is the dashboard's reference world for a 7-day period ending on `today`: the
expected numbers (EXPECTED_7_DAYS) are worked out by hand in the comments.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import ClassVar

from ccare.catalog.schemas import StorefrontVisited
from ccare.core.events import DomainEvent
from ccare.coupons.schemas import CouponClaimed, CouponUsed
from ccare.favorites.schemas import FavoriteAdded, FavoriteRemoved
from ccare.messages.schemas import MessageSent
from ccare.orders.schemas import OrderPaid, OrderRefunded
from ccare.profiles.schemas import CustomerEvent

LOCAL = timezone(timedelta(hours=8))
_ids = itertools.count(1)


def local(day: date, clock: str = "12:00:00") -> datetime:
    """`day` at `clock` in UTC+8, as a UTC instant."""
    h, m, s = (int(x) for x in clock.split(":"))
    return datetime(day.year, day.month, day.day, h, m, s, tzinfo=LOCAL).astimezone(UTC)


def _id() -> str:
    return f"dash{next(_ids):028d}"


def paid(merchant: int, consumer: int, at: datetime, fen: int) -> OrderPaid:
    n = next(_ids)
    return OrderPaid(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        order_id=n,
        trade_no=str(n),
        mini_program_id=5,
        items=[],
        amount=fen,
        platform_fee_fen=0,
    )


def refunded(merchant: int, consumer: int, at: datetime, fen: int) -> OrderRefunded:
    n = next(_ids)
    return OrderRefunded(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        order_id=n,
        trade_no=str(n),
        mini_program_id=5,
        refund_id=n,
        out_request_no=f"r{n}",
        amount=fen,
        refunded_total=fen,
        fully_refunded=False,
    )


def visited(merchant: int, consumer: int, at: datetime, channel: str) -> StorefrontVisited:
    return StorefrontVisited(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        mini_program_id=5,
        channel=channel,
    )


def claimed(merchant: int, consumer: int, at: datetime, channel: str) -> CouponClaimed:
    return CouponClaimed(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        activity_id=1,
        coupon_id=next(_ids),
        code="c",
        channel=channel,
    )


def used(merchant: int, consumer: int, at: datetime, discount_fen: int) -> CouponUsed:
    return CouponUsed(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        activity_id=1,
        coupon_id=next(_ids),
        order_id=None,
        discount_fen=discount_fen,
    )


def fav_added(
    merchant: int, consumer: int, at: datetime, mp: int, channel: str | None = None
) -> FavoriteAdded:
    return FavoriteAdded(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        mini_program_id=mp,
        channel=channel,
    )


def fav_removed(merchant: int, consumer: int, at: datetime, mp: int) -> FavoriteRemoved:
    return FavoriteRemoved(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        mini_program_id=mp,
    )


def custom(merchant: int, consumer: int, at: datetime, name: str, channel: str) -> CustomerEvent:
    external = _id()
    return CustomerEvent(
        event_id=f"ext:{merchant}:{external}",
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        name=name,
        channel=channel,
        external_id=external,
    )


def message_sent(merchant: int, consumer: int, at: datetime) -> MessageSent:
    return MessageSent(
        event_id=_id(),
        occurred_at=at,
        merchant_id=merchant,
        consumer_id=consumer,
        message_id=next(_ids),
        template_id=1,
        category="marketing",
    )


class PromotionCharged(DomainEvent):
    """The promotion platform's charge, as it will look (declared here, not registered)."""

    type: ClassVar[str] = "promotion.charged"
    amount: int


def promotion_charged(merchant: int, at: datetime, fen: int) -> PromotionCharged:
    return PromotionCharged(event_id=_id(), occurred_at=at, merchant_id=merchant, amount=fen)


@dataclass(frozen=True)
class People:
    """Alice, Bob, Carol, Dan and Eve are the merchant's; Zed shops at the other merchant."""

    alice: int
    bob: int
    carol: int
    dan: int
    eve: int
    zed: int


def week(today: date, m: int, other: int, p: People) -> list[DomainEvent]:
    """The current 7-day period is today-6 .. today, the previous one today-13 .. today-7."""

    def day(k: int, clock: str = "12:00:00") -> datetime:
        return local(today - timedelta(days=k), clock)

    return [
        # Alice: new in the previous period (a coupon claimed at the coupon venue), with a
        # paid order and a coupon used that day; in the current period a visit at its very
        # first instant, two orders, a favorite, and a refund (of the previous order).
        claimed(m, p.alice, day(12, "10:00:00"), "coupon_venue"),
        paid(m, p.alice, day(12, "11:00:00"), 3_000),
        used(m, p.alice, day(12, "11:00:00"), 500),
        visited(m, p.alice, day(6, "00:00:00"), "search"),
        paid(m, p.alice, day(4), 2_000),
        fav_added(m, p.alice, day(4), mp=5, channel="storefront"),
        paid(m, p.alice, day(2, "09:00:00"), 4_000),
        refunded(m, p.alice, day(1, "10:00:00"), 1_000),
        # Bob: new at the previous period's last second (a search visit), favorited an hour
        # before; in the current period an order and the favorite removed.
        fav_added(m, p.bob, day(7, "23:00:00"), mp=5),
        visited(m, p.bob, day(7, "23:59:59"), "search"),
        paid(m, p.bob, day(5, "08:00:00"), 1_500),
        fav_removed(m, p.bob, day(3), mp=5),
        # Carol: new at the current period's first instant, by favoriting from the
        # storefront; a message sent to her later does not make her active.
        fav_added(m, p.carol, day(6, "00:00:00"), mp=6, channel="storefront"),
        message_sent(m, p.carol, day(3)),
        # Dan: new today through the merchant's own offline QR event, then an order with a
        # coupon.
        custom(m, p.dan, day(0, "09:00:00"), "visit", "offline_qr"),
        paid(m, p.dan, day(0, "10:00:00"), 2_500),
        used(m, p.dan, day(0, "10:00:00"), 300),
        # Eve: a customer since long before both periods, one order in the current one.
        paid(m, p.eve, day(54), 1_000),
        paid(m, p.eve, day(1), 800),
        # The other merchant's events count nowhere here.
        paid(other, p.alice, day(4), 99_999),
        visited(other, p.zed, day(5), "ad"),
        fav_added(other, p.zed, day(5), mp=9),
        used(other, p.zed, day(5), 7_777),
        claimed(other, p.alice, day(20), "api"),
    ]


# What week() gives with days=7 (current, previous); see test_service.py for the reasons.
EXPECTED_7_DAYS = {
    "new_customers": (2, 2),
    "wau": (5, 2),
    "dau": [2, 1, 1, 1, 1, 1, 1],
    "wau_daily": [3, 3, 3, 3, 3, 4, 5],
    "active_consumers": (5, 2),
    "repeat_visitors": (2, 0),
    "favorites_added": (2, 1),
    "favorites_removed": (1, 0),
    "favoriters": (2, 1),
    "gmv_fen": (9_800, 3_000),
    "paid_fen": (10_800, 3_000),
    "refunded_fen": (1_000, 0),
    "paid_orders": (5, 1),
    "buyers": (4, 1),
    "repeat_buyers": (1, 0),
    "spend_fen": (300, 500),
}
