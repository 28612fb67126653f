"""Trigger queries: who a trigger campaign would take now, as Ibis expressions over the
analytics events (ADR 0011), so they run on DuckDB, PostgreSQL or a distributed engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ccare.core.analytics import payload_int
from ccare.core.errors import DomainError


class NoAnalytics(DomainError):
    status_code = 503
    code = "campaign.no_analytics"


def favorited_no_order_expr(events: Any, merchant_id: int, days: int, now: datetime) -> Any:
    """Consumers who favorited one of the merchant's mini-programs at least `days` days
    ago, still favorite it, and have not paid an order with the merchant since."""
    import ibis

    e = events.filter(events.merchant_id == merchant_id)
    favs = e.filter(e.type.isin(["favorite.added", "favorite.removed"])).mutate(
        mp=payload_int(e, "mini_program_id")
    )
    ranked = favs.mutate(
        _rn=ibis.row_number().over(
            group_by=["consumer_id", "mp"],
            order_by=[ibis.desc("occurred_at"), ibis.desc("event_id")],
        )
    )
    current = ranked.filter(
        (ranked._rn == 0)
        & (ranked.type == "favorite.added")
        & (ranked.occurred_at <= now - timedelta(days=days))
    )
    favoriters = current.group_by("consumer_id").aggregate(favorited_at=current.occurred_at.min())
    paid = e.filter(e.type == "order.paid")
    last_paid = paid.group_by("consumer_id").aggregate(last_paid_at=paid.occurred_at.max())
    joined = favoriters.left_join(last_paid, "consumer_id")
    chosen = joined.filter(
        joined.last_paid_at.isnull() | (joined.last_paid_at < joined.favorited_at)
    )
    return chosen.select(consumer_id=chosen.consumer_id).order_by("consumer_id")


def favorited_no_order(analytics: Any, merchant_id: int, days: int, now: datetime) -> list[int]:
    if analytics is None:
        raise NoAnalytics("this worker has no analytics store to evaluate triggers on")
    expr = favorited_no_order_expr(analytics.events_table(), merchant_id, days, now)
    return [int(row["consumer_id"]) for row in expr.to_pyarrow().to_pylist()]
