"""The C-CARE numbers as Ibis expressions over the analytics `events` table (ADR 0004, 0011).

They run unchanged on DuckDB and on PostgreSQL. Days are local days in the platform's
display time zone (UTC+8, no daylight saving), numbered from 1970-01-01 (`day_number`):
an event's day is floor((epoch seconds + 8 h) / 1 day), computed from the instant itself,
so the result does not depend on the database session's time zone. A period is a run of
whole local days `[first, last]`; the expressions here take the first and last day numbers
of the window they read, usually the previous period and the current one together, and
tell the two apart in Python (repository.py runs them, service.py adds them up).

Payload integers are read by way of their JSON text (as in profiles.queries), because
Ibis's own integer unwrap does not compile for PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis

from ccare.core.analytics import payload_int
from ccare.profiles.queries import profile_table
from ccare.web.i18n import N_

SECONDS_PER_DAY = 86_400
# Days are counted in the platform's display time zone (UTC+8, as web/charts.py).
LOCAL_OFFSET_SECONDS = 8 * 3_600
EPOCH_DAY = date(1970, 1, 1)
WEEK = 7

# What a consumer does themselves: a day with one of these makes them active that day.
# Not here: what the merchant or the platform does to them (message.sent / delivered,
# coupon.expired / released, order.closed, order.refunded).
ACTIVE_TYPES: tuple[str, ...] = (
    "storefront.visited",
    "customer.event",
    "order.created",
    "order.paid",
    "favorite.added",
    "favorite.removed",
    "coupon.claimed",
    "coupon.used",
    "message.opened",
    "message.clicked",
    "message.consented",
)
FAVORITE_TYPES = ("favorite.added", "favorite.removed")
SALES_TYPES = ("order.paid", "order.refunded")
UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class SpendSource:
    """One kind of marketing spend: events of `event_type`, each costing the integer fen in
    payload field `payload_field`, or in the event's `amount` column when that is None."""

    key: str
    event_type: str
    payload_field: str | None
    label: str


# Every marketing spend the Efficiency section adds up, in display order. Products that
# charge merchants for marketing add a row here.
SPEND_SOURCES: tuple[SpendSource, ...] = (
    SpendSource("coupon_discounts", "coupon.used", "discount_fen", N_("Coupon discounts")),
    SpendSource("promotion", "promotion.charged", None, N_("Promotion charges")),
)


# --- days -------------------------------------------------------------------------------


def day_number(day: date) -> int:
    return (day - EPOCH_DAY).days


def day_of(number: int) -> date:
    return EPOCH_DAY + timedelta(days=number)


def day_start(number: int) -> datetime:
    """The first instant (UTC) of local day `number`."""
    return datetime.combine(day_of(number), datetime.min.time(), tzinfo=UTC) - timedelta(
        seconds=LOCAL_OFFSET_SECONDS
    )


def local_day(ts: Any) -> Any:
    """The local day number of a timestamp column."""
    seconds = ts.epoch_seconds().cast("float64") + LOCAL_OFFSET_SECONDS
    return (seconds / SECONDS_PER_DAY).floor().cast("int64")


def _count_if(condition: Any) -> Any:
    return ibis.cases((condition, 1), else_=0).sum().fill_null(0).cast("int64")


def _sum_if(condition: Any, value: Any) -> Any:
    return ibis.cases((condition, value), else_=0).sum().fill_null(0).cast("int64")


def _window(events: Any, merchant_id: int, first: int, last: int, types: tuple[str, ...]) -> Any:
    """The merchant's events of `types` on local days first..last (inclusive)."""
    e = events
    return e.filter(
        (e.merchant_id == merchant_id)
        & e.type.isin(list(types))
        & (e.occurred_at >= day_start(first))
        & (e.occurred_at < day_start(last + 1))
    )


# --- Scale ------------------------------------------------------------------------------


def new_customers(events: Any, merchant_id: int, first: int, last: int, now: datetime) -> Any:
    """Consumers whose first event ever with the merchant fell on days first..last, by
    first day and acquisition channel (profile_table's): columns day, channel, customers.
    A customer with no channel on any event counts under UNKNOWN_CHANNEL."""
    p = profile_table(events, merchant_id, now)
    p = p.filter((p.first_seen >= day_start(first)) & (p.first_seen < day_start(last + 1)))
    p = p.select(
        day=local_day(p.first_seen),
        channel=p.acquisition_channel.fill_null(UNKNOWN_CHANNEL),
    )
    return p.group_by(["day", "channel"]).aggregate(customers=p.count().cast("int64"))


# --- Active -----------------------------------------------------------------------------


def active_days(events: Any, merchant_id: int, first: int, last: int) -> Any:
    """One row per (consumer, local day) on which the consumer was active with the merchant."""
    e = _window(events, merchant_id, first, last, ACTIVE_TYPES)
    e = e.filter(e.consumer_id.notnull())
    return e.select(
        consumer_id=e.consumer_id.cast("int64"), day=local_day(e.occurred_at)
    ).distinct()


def daily_active(events: Any, merchant_id: int, first: int, last: int) -> Any:
    """Distinct active consumers per local day: columns day, dau (days without any absent)."""
    pairs = active_days(events, merchant_id, first, last)
    return pairs.group_by("day").aggregate(dau=pairs.consumer_id.nunique().cast("int64"))


def weekly_active(events: Any, merchant_id: int, first: int, last: int) -> Any:
    """Distinct consumers active on any of the 7 local days ending with each day first..last:
    columns day, wau (days with none absent). Each active day counts for itself and the
    6 days after it."""
    pairs = active_days(events, merchant_id, first - (WEEK - 1), last)
    shifted = [
        pairs.select(pairs.consumer_id, day=(pairs.day + k).cast("int64")) for k in range(WEEK)
    ]
    weeks = ibis.union(*shifted, distinct=False)
    weeks = weeks.filter(weeks.day.between(first, last))
    return weeks.group_by("day").aggregate(wau=weeks.consumer_id.nunique().cast("int64"))


def repeat_visits(events: Any, merchant_id: int, first: int, last: int, split: int) -> Any:
    """Per period (0: days before `split`, 1: from `split` on) the consumers active in it and
    those active on at least 2 distinct local days of it: columns period, active, repeat."""
    pairs = active_days(events, merchant_id, first, last)
    pairs = pairs.mutate(period=ibis.ifelse(pairs.day >= split, 1, 0).cast("int64"))
    per = pairs.group_by(["period", "consumer_id"]).aggregate(days=pairs.day.nunique())
    return per.group_by("period").aggregate(
        active=per.count().cast("int64"), repeat=_count_if(per.days >= 2)
    )


def favorite_changes(events: Any, merchant_id: int, first: int, last: int) -> Any:
    """favorite.added / favorite.removed events per local day: columns day, type, n."""
    e = _window(events, merchant_id, first, last, FAVORITE_TYPES)
    e = e.mutate(day=local_day(e.occurred_at))
    return e.group_by(["day", "type"]).aggregate(n=e.count().cast("int64"))


def favoriters(events: Any, merchant_id: int, before: datetime) -> Any:
    """How many consumers had at least one of the merchant's mini-programs favorited at the
    instant `before`: the latest favorite event per (consumer, mini-program) before it is
    an addition (ties broken by event id, as in profiles.queries). A scalar."""
    e = events
    e = e.filter(
        (e.merchant_id == merchant_id)
        & e.type.isin(list(FAVORITE_TYPES))
        & e.consumer_id.notnull()
        & (e.occurred_at < before)
    )
    e = e.select(
        "consumer_id",
        "occurred_at",
        "event_id",
        "type",
        mp=e.payload["mini_program_id"].cast("string"),
    )
    ranked = e.mutate(
        _rn=ibis.row_number().over(
            group_by=["consumer_id", "mp"],
            order_by=[ibis.desc("occurred_at"), ibis.desc("event_id")],
        )
    )
    latest = ranked.filter((ranked._rn == 0) & (ranked.type == "favorite.added"))
    return latest.consumer_id.nunique()


# --- Worth ------------------------------------------------------------------------------


def daily_sales(events: Any, merchant_id: int, first: int, last: int) -> Any:
    """Per local day: paid orders, fen paid (`order.paid` amount) and fen refunded
    (`order.refunded` amount, on the day of the refund): columns day, paid_orders, paid_fen,
    refunded_fen (days without sales or refunds absent)."""
    e = _window(events, merchant_id, first, last, SALES_TYPES)
    e = e.mutate(day=local_day(e.occurred_at), fen=e.amount.fill_null(0))
    paid = e.type == "order.paid"
    return e.group_by("day").aggregate(
        paid_orders=_count_if(paid),
        paid_fen=_sum_if(paid, e.fen),
        refunded_fen=_sum_if(e.type == "order.refunded", e.fen),
    )


def buyers(events: Any, merchant_id: int, first: int, last: int, split: int) -> Any:
    """Per period (0: days before `split`, 1: from `split` on) the consumers with a paid
    order in it and those with at least 2: columns period, buyers, repeat."""
    e = _window(events, merchant_id, first, last, ("order.paid",))
    e = e.filter(e.consumer_id.notnull())
    e = e.mutate(period=ibis.ifelse(local_day(e.occurred_at) >= split, 1, 0).cast("int64"))
    per = e.group_by(["period", "consumer_id"]).aggregate(orders=e.count())
    return per.group_by("period").aggregate(
        buyers=per.count().cast("int64"), repeat=_count_if(per.orders >= 2)
    )


# --- Efficiency -------------------------------------------------------------------------


def spend(
    events: Any,
    merchant_id: int,
    first: int,
    last: int,
    split: int,
    sources: tuple[SpendSource, ...] | None = None,
) -> Any:
    """Marketing spend in fen per period (0 / 1 as above) and source key: columns period,
    source, fen (combinations without spend absent). `sources`: SPEND_SOURCES by default."""
    parts = []
    for source in sources or SPEND_SOURCES:
        e = _window(events, merchant_id, first, last, (source.event_type,))
        fen = (
            e.amount.fill_null(0)
            if source.payload_field is None
            else payload_int(e, source.payload_field).fill_null(0)
        )
        parts.append(
            e.select(
                period=ibis.ifelse(local_day(e.occurred_at) >= split, 1, 0).cast("int64"),
                source=ibis.literal(source.key, type="string"),
                fen=fen.cast("int64"),
            )
        )
    rows = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    return rows.group_by(["period", "source"]).aggregate(fen=rows.fen.sum().cast("int64"))
