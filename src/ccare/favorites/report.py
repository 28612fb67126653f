"""The merchant's view of a mini-program's favorites: who favorites it now (for recall,
from this product's own rows) and how favorites came and went per day (an Ibis
expression over the analytics store's events, docs/adr/0004)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.core.tenancy import Tenant
from ccare.core.time import utcnow
from ccare.favorites.repository import FavoritesRepository
from ccare.favorites.schemas import DayCount, FavoriterOut, FavoriterPage, FavoritesReport

DAYS = 30
# Days are counted in the platform's display time zone (UTC+8, no daylight saving).
DAY_OFFSET = timedelta(hours=8)


def daily_changes(
    events: Any,
    merchant_id: int,
    mini_program_id: int,
    *,
    days: int = DAYS,
    now: datetime | None = None,
) -> list[DayCount]:
    """Favorites added and removed per local day for the last `days` days, oldest first,
    every day present; `events` None (no analytics store) gives zeros."""
    import ibis

    now = now or utcnow()
    today = (now + DAY_OFFSET).date()
    first = today - timedelta(days=days - 1)
    counts: dict[tuple[date, str], int] = {}
    if events is not None:
        start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo) - DAY_OFFSET
        t = events
        changes = t.filter(
            t.type.isin(["favorite.added", "favorite.removed"])
            & (t.merchant_id == merchant_id)
            & (t.occurred_at >= start)
            # The JSON number as text: the same comparison on DuckDB and PostgreSQL.
            & (t.payload["mini_program_id"].cast("string") == str(mini_program_id))
        )
        changes = changes.mutate(day=(changes.occurred_at + ibis.interval(hours=8)).date())
        expr = changes.group_by(["day", "type"]).aggregate(n=changes.count())
        for row in expr.to_pyarrow().to_pylist():
            counts[(row["day"], row["type"])] = int(row["n"])
    return [
        DayCount(
            day=d,
            added=counts.get((d, "favorite.added"), 0),
            removed=counts.get((d, "favorite.removed"), 0),
        )
        for d in (first + timedelta(days=i) for i in range(days))
    ]


def report(
    db: Session,
    tenant: Tenant,
    analytics: Any,
    mini_program_id: int,
    *,
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> FavoritesReport:
    mini_program = catalog.get_mini_program(db, tenant, mini_program_id)
    repo = FavoritesRepository(db, tenant)
    events = analytics.events_table() if analytics is not None else None
    current = repo.favoriter_count(mini_program.id)
    return FavoritesReport(
        mini_program_id=mini_program.id,
        current=current,
        days=daily_changes(events, mini_program.merchant_id, mini_program.id, now=now),
        favoriters=FavoriterPage(
            items=[
                FavoriterOut.model_validate(r)
                for r in repo.favoriters(mini_program.id, limit, offset)
            ],
            total=current,
            limit=limit,
            offset=offset,
        ),
    )
