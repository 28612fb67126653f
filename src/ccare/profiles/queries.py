"""Customer profiles, RFM and timelines as Ibis expressions over the analytics `events` table.

They run unchanged on DuckDB and on PostgreSQL (ADR 0004). Payload fields are read with
Ibis's JSON accessors: strings through `.str`; integers by way of their JSON text, because
Ibis's own integer unwrap does not compile for PostgreSQL.

RFM scores are quintiles among the merchant's customers with orders, by mid-rank: a
customer's position is the share of buyers worse than them plus half the share tied with
them, so equal values always get equal scores and the result does not depend on the
backend's ordering of ties. Score = ceil(5 × position), from 1 to 5; 0 without orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import ibis
from ibis import _

from ccare.core.analytics import payload_int, payload_str
from ccare.web.i18n import N_

SECONDS_PER_DAY = 86_400


class RfmSegment(StrEnum):
    CHAMPIONS = "champions"
    LOYAL = "loyal"
    NEW = "new"
    POTENTIAL = "potential"
    AT_RISK = "at_risk"
    HIBERNATING = "hibernating"
    LOST = "lost"
    PROSPECTS = "prospects"  # no orders


@dataclass(frozen=True)
class RfmLabel:
    """Customers whose scores fall in all three ranges (inclusive) get this label; the
    first matching row wins."""

    label: RfmSegment
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]
    title: str
    advice: str


PROSPECTS = RfmSegment.PROSPECTS
RFM_LABELS: tuple[RfmLabel, ...] = (
    RfmLabel(
        RfmSegment.CHAMPIONS,
        (4, 5),
        (4, 5),
        (4, 5),
        N_("Champions"),
        N_("Bought recently, often and the most."),
    ),
    RfmLabel(
        RfmSegment.LOYAL, (3, 5), (4, 5), (1, 5), N_("Loyal"), N_("Buy often and not long ago.")
    ),
    RfmLabel(
        RfmSegment.NEW, (5, 5), (1, 3), (1, 5), N_("New"), N_("Bought very recently, a few times.")
    ),
    RfmLabel(
        RfmSegment.POTENTIAL,
        (3, 4),
        (1, 3),
        (1, 5),
        N_("Potential"),
        N_("Bought fairly recently; could buy more often."),
    ),
    RfmLabel(
        RfmSegment.AT_RISK,
        (1, 2),
        (4, 5),
        (1, 5),
        N_("At risk"),
        N_("Used to buy often, but not for a long time."),
    ),
    RfmLabel(
        RfmSegment.HIBERNATING,
        (2, 2),
        (1, 3),
        (1, 5),
        N_("Hibernating"),
        N_("Few orders, a while ago."),
    ),
    RfmLabel(RfmSegment.LOST, (1, 1), (1, 3), (1, 5), N_("Lost"), N_("Few orders, long ago.")),
    RfmLabel(
        PROSPECTS,
        (0, 0),
        (0, 0),
        (0, 0),
        N_("Prospects"),
        N_("Have visited or interacted, but never ordered."),
    ),
)
SEGMENTS: tuple[str, ...] = tuple(row.label.value for row in RFM_LABELS)

# Every (r, f, m) with 1 <= score <= 5, and (0, 0, 0), has exactly one first match.
PROFILE_COLUMNS = (
    "consumer_id",
    "first_seen",
    "last_seen",
    "visits",
    "orders",
    "gmv_fen",
    "last_order_at",
    "favorites",
    "coupons_claimed",
    "coupons_used",
    "acquisition_channel",
    "member_level",
    "recency_days",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
)
SORTS = {"last_seen": "last_seen", "gmv": "gmv_fen", "orders": "orders"}


def label_for(r: int, f: int, m: int) -> str:
    """The published table applied in Python (the query applies the same rows)."""
    for row in RFM_LABELS:
        if row.r[0] <= r <= row.r[1] and row.f[0] <= f <= row.f[1] and row.m[0] <= m <= row.m[1]:
            return row.label.value
    raise ValueError(f"no RFM label for {(r, f, m)}")


def _count_if(condition: Any) -> Any:
    return ibis.cases((condition, 1), else_=0).sum().fill_null(0).cast("int64")


def _sum_if(condition: Any, value: Any) -> Any:
    return ibis.cases((condition, value), else_=0).sum().fill_null(0).cast("int64")


def _first_per(table: Any, keys: list[str], *, latest: bool) -> Any:
    """One row per `keys`: the earliest (or latest) by time, ties broken by event id."""
    order = (
        [ibis.desc("occurred_at"), ibis.desc("event_id")]
        if latest
        else [ibis.asc("occurred_at"), ibis.asc("event_id")]
    )
    ranked = table.mutate(_rn=ibis.row_number().over(group_by=keys, order_by=order))
    return ranked.filter(ranked._rn == 0).drop("_rn")


def _activity(merchant_events: Any) -> Any:
    e = merchant_events
    paid = e.type == "order.paid"
    visit = (e.type == "storefront.visited") | (
        (e.type == "customer.event") & (payload_str(e, "name") == "visit")
    )
    return e.group_by("consumer_id").aggregate(
        first_seen=e.occurred_at.min(),
        last_seen=e.occurred_at.max(),
        visits=_count_if(visit),
        orders=_count_if(paid),
        gmv_fen=_sum_if(paid, e.amount.fill_null(0))
        - _sum_if(e.type == "order.refunded", e.amount.fill_null(0)),
        last_order_at=e.occurred_at.max(where=paid),
        coupons_claimed=_count_if(e.type == "coupon.claimed"),
        coupons_used=_count_if(e.type == "coupon.used"),
    )


def _favorites(merchant_events: Any) -> Any:
    e = merchant_events.filter(merchant_events.type.isin(["favorite.added", "favorite.removed"]))
    e = e.select(
        "consumer_id", "occurred_at", "event_id", "type", mp=payload_int(e, "mini_program_id")
    )
    latest = _first_per(e, ["consumer_id", "mp"], latest=True)
    return latest.group_by("consumer_id").aggregate(
        favorites=_count_if(latest.type == "favorite.added")
    )


def _acquisition(merchant_events: Any) -> Any:
    e = merchant_events.select(
        "consumer_id", "occurred_at", "event_id", channel=payload_str(merchant_events, "channel")
    )
    e = e.filter(e.channel.notnull())
    first = _first_per(e, ["consumer_id"], latest=False)
    return first.select("consumer_id", acquisition_channel=first.channel)


def _member_levels(events: Any) -> Any:
    # consumer.registered is the platform's event: it carries no merchant.
    e = events.filter((events.type == "consumer.registered") & events.consumer_id.notnull())
    e = e.select(
        "consumer_id", "occurred_at", "event_id", member_level=payload_str(events, "member_level")
    )
    latest = _first_per(e, ["consumer_id"], latest=True)
    return latest.select("consumer_id", "member_level")


def _score(good: Any, buyers: Any, n: Any) -> Any:
    """Mid-rank quintile among buyers (`good`: larger is better); 0 for non-buyers."""
    window_up = ibis.window(group_by=buyers, order_by=good)
    window_down = ibis.window(group_by=buyers, order_by=good.desc())
    worse = ibis.rank().over(window_up)
    worse_or_tied = n - ibis.rank().over(window_down)
    score = (5 * (worse + worse_or_tied) + 2 * n - 1) // (2 * n)
    return ibis.cases((buyers, score.cast("int64")), else_=0)


def _segment(r: Any, f: Any, m: Any) -> Any:
    branches = [
        (
            r.between(*row.r) & f.between(*row.f) & m.between(*row.m),
            ibis.literal(row.label.value),
        )
        for row in RFM_LABELS
    ]
    return ibis.cases(*branches, else_=ibis.literal(PROSPECTS.value))


def profile_table(events: Any, merchant_id: int, now: datetime) -> Any:
    """One row per consumer with any event of this merchant (columns: PROFILE_COLUMNS)."""
    mine = events.filter((events.merchant_id == merchant_id) & events.consumer_id.notnull())
    base = (
        _activity(mine)
        .left_join(_favorites(mine), "consumer_id")
        .select(~ibis.selectors.endswith("_right"))
    )
    base = base.left_join(_acquisition(mine), "consumer_id").select(
        ~ibis.selectors.endswith("_right")
    )
    base = base.left_join(_member_levels(events), "consumer_id").select(
        ~ibis.selectors.endswith("_right")
    )
    now_seconds = ibis.literal(now.timestamp())
    since_order = now_seconds - base.last_order_at.epoch_seconds().cast("float64")
    recency = (since_order / SECONDS_PER_DAY).floor().cast("int64")
    base = base.mutate(
        favorites=base.favorites.fill_null(0).cast("int64"),
        recency_days=ibis.ifelse(recency < 0, 0, recency),  # null without orders
        _buyer=base.orders > 0,
    )
    n = _.consumer_id.count().over(ibis.window(group_by=base._buyer))
    scored = base.mutate(_n=n)
    scored = scored.mutate(
        r_score=_score(-scored.recency_days, scored._buyer, scored._n),
        f_score=_score(scored.orders, scored._buyer, scored._n),
        m_score=_score(scored.gmv_fen, scored._buyer, scored._n),
    )
    scored = scored.mutate(rfm_segment=_segment(scored.r_score, scored.f_score, scored.m_score))
    return scored.select(
        scored.consumer_id.cast("int64").name("consumer_id"),
        *PROFILE_COLUMNS[1:],
    )


def rfm_summary(events: Any, merchant_id: int, now: datetime) -> Any:
    """Customers per RFM segment: columns rfm_segment, customers, gmv_fen."""
    p = profile_table(events, merchant_id, now)
    return p.group_by("rfm_segment").aggregate(
        customers=p.count(), gmv_fen=p.gmv_fen.sum().cast("int64")
    )


def timeline(events: Any, merchant_id: int, consumer_id: int, limit: int) -> Any:
    """The consumer's latest events with this merchant, newest first."""
    e = events.filter((events.merchant_id == merchant_id) & (events.consumer_id == consumer_id))
    e = e.select(
        "event_id",
        "type",
        "occurred_at",
        "amount",
        name=payload_str(e, "name"),
        channel=payload_str(e, "channel"),
        payload=e.payload.cast("string"),
    )
    return e.order_by([ibis.desc("occurred_at"), ibis.desc("event_id")]).limit(limit)
