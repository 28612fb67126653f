"""The C-CARE dashboard of one merchant: Scale, Active, woRth, Efficiency. No HTTP; never
commits; reads only the analytics store (repository.py runs the queries of queries.py).

A period is the last `days` local days (UTC+8) up to and including today; every number is
also computed for the previous period of the same length, for the deltas. Ratios with
nothing to divide by are None, never an error: an empty merchant gets zeros and Nones.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ccare.campaigns import service as campaigns
from ccare.core.analytics import AnalyticsStore
from ccare.core.errors import InvalidInput
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import utcnow
from ccare.dashboard import queries
from ccare.dashboard.queries import day_number, day_of, day_start
from ccare.dashboard.repository import DashboardRepository
from ccare.dashboard.schemas import (
    DEFAULT_DAYS,
    MAX_DAYS,
    MIN_DAYS,
    ActiveDay,
    ActiveOut,
    CampaignRoiOut,
    CcareDashboard,
    ChannelCount,
    CountMetric,
    EfficiencyOut,
    FenMetric,
    NewCustomersDay,
    Period,
    RateMetric,
    SalesDay,
    ScaleOut,
    SpendOut,
    WorthOut,
)
from ccare.merchants import service as merchants
from ccare.web.charts import local_today

PREVIOUS, CURRENT = 0, 1


class InvalidDays(InvalidInput):
    code = "dashboard.invalid_days"


def merchant_for(db: Session, actor: Principal, requested: int | None) -> int:
    return merchants.merchant_for(db, actor, requested, code="dashboard.merchant_required")


def check_days(days: int) -> int:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidDays(
            f"days must be between {MIN_DAYS} and {MAX_DAYS}",
            minimum=MIN_DAYS,
            maximum=MAX_DAYS,
        )
    return days


# --- arithmetic -------------------------------------------------------------------------


def count_metric(current: int, previous: int) -> CountMetric:
    change = current - previous
    return CountMetric(
        current=current,
        previous=previous,
        change=change,
        change_ratio=change / previous if previous else None,
    )


def average_fen(total_fen: int, count: int) -> int | None:
    """total ÷ count rounded half up to a whole fen; None when count is 0."""
    if count == 0:
        return None
    return (2 * total_fen + count) // (2 * count)


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def fen_metric(current: int | None, previous: int | None) -> FenMetric:
    change = current - previous if current is not None and previous is not None else None
    return FenMetric(current=current, previous=previous, change=change)


def rate_metric(current: float | None, previous: float | None) -> RateMetric:
    change = current - previous if current is not None and previous is not None else None
    return RateMetric(current=current, previous=previous, change=change)


# --- the dashboard ----------------------------------------------------------------------


def ccare(
    db: Session,
    analytics: AnalyticsStore | None,
    actor: Principal,
    *,
    merchant_id: int | None = None,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> CcareDashboard:
    """The merchant's C-CARE numbers for the last `days` local days (7–90) and the
    `days` before them. The merchant is the one named, or the caller's own."""
    check_days(days)
    merchant_id = merchant_for(db, actor, merchant_id)
    return dashboard(db, analytics, merchant_id, days=days, now=now)


def dashboard(
    db: Session,
    analytics: AnalyticsStore | None,
    merchant_id: int,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> CcareDashboard:
    """The numbers for a merchant already resolved within the caller's tenant."""
    now = now or utcnow()
    last = day_number(local_today(now))
    first = last - days + 1
    previous_first = first - days
    period = Period(
        days=days,
        first_day=day_of(first),
        last_day=day_of(last),
        previous_first_day=day_of(previous_first),
        previous_last_day=day_of(first - 1),
        starts_at=day_start(first),
        ends_at=day_start(last + 1),
        previous_starts_at=day_start(previous_first),
    )
    repo = DashboardRepository(analytics, merchant_id)
    window = _Window(previous_first, first, last)
    scale = _scale(repo, window, now)
    worth = _worth(repo, window)
    return CcareDashboard(
        merchant_id=merchant_id,
        period=period,
        generated_at=now,
        scale=scale,
        active=_active(repo, window),
        worth=worth,
        efficiency=_efficiency(
            db,
            repo,
            window,
            new_customers=scale.new_customers,
            gmv_fen=worth.gmv_fen,
            now=now,
        ),
    )


class _Window:
    """Day numbers: the previous period is [previous_first, first - 1], the current one
    [first, last]."""

    def __init__(self, previous_first: int, first: int, last: int) -> None:
        self.previous_first = previous_first
        self.first = first
        self.last = last

    def period_of(self, day: int) -> int:
        return CURRENT if day >= self.first else PREVIOUS

    @property
    def current_days(self) -> range:
        return range(self.first, self.last + 1)

    @property
    def previous_days(self) -> range:
        return range(self.previous_first, self.first)


def _scale(repo: DashboardRepository, w: _Window, now: datetime) -> ScaleOut:
    per_day: dict[int, dict[str, int]] = defaultdict(dict)
    per_channel: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in repo.new_customers(w.previous_first, w.last, now):
        day, channel, n = int(row["day"]), str(row["channel"]), int(row["customers"])
        per_channel[channel][w.period_of(day)] += n
        if w.period_of(day) == CURRENT:
            per_day[day][channel] = n
    totals = [sum(c[p] for c in per_channel.values()) for p in (PREVIOUS, CURRENT)]
    channels = sorted(
        per_channel.items(), key=lambda kv: (-kv[1][CURRENT], -kv[1][PREVIOUS], kv[0])
    )
    return ScaleOut(
        new_customers=count_metric(totals[CURRENT], totals[PREVIOUS]),
        by_channel=[
            ChannelCount(channel=c, current=n[CURRENT], previous=n[PREVIOUS]) for c, n in channels
        ],
        daily=[
            NewCustomersDay(
                day=day_of(d),
                total=sum(per_day[d].values()),
                by_channel=dict(sorted(per_day[d].items())),
            )
            for d in w.current_days
        ],
    )


def _by_period(rows: list[dict[str, Any]], *columns: str) -> dict[int, dict[str, int]]:
    found = {int(r["period"]): {c: int(r[c] or 0) for c in columns} for r in rows}
    zero = dict.fromkeys(columns, 0)
    return {p: found.get(p, zero) for p in (PREVIOUS, CURRENT)}


def _active(repo: DashboardRepository, w: _Window) -> ActiveOut:
    dau = {int(r["day"]): int(r["dau"]) for r in repo.daily_active(w.previous_first, w.last)}
    wau = {int(r["day"]): int(r["wau"]) for r in repo.weekly_active(w.previous_first, w.last)}
    visits = _by_period(repo.repeat_visits(w.previous_first, w.last, w.first), "active", "repeat")
    changes: dict[str, list[int]] = {t: [0, 0] for t in queries.FAVORITE_TYPES}
    for row in repo.favorite_changes(w.previous_first, w.last):
        changes[str(row["type"])][w.period_of(int(row["day"]))] += int(row["n"])
    added, removed = changes["favorite.added"], changes["favorite.removed"]
    days = len(w.current_days)
    average = [
        sum(dau.get(d, 0) for d in span) / days for span in (w.previous_days, w.current_days)
    ]
    return ActiveOut(
        daily=[
            ActiveDay(day=day_of(d), dau=dau.get(d, 0), wau=wau.get(d, 0)) for d in w.current_days
        ],
        average_dau=rate_metric(average[CURRENT], average[PREVIOUS]),
        wau=count_metric(wau.get(w.last, 0), wau.get(w.first - 1, 0)),
        active_consumers=count_metric(visits[CURRENT]["active"], visits[PREVIOUS]["active"]),
        repeat_visitors=count_metric(visits[CURRENT]["repeat"], visits[PREVIOUS]["repeat"]),
        repeat_visit_rate=rate_metric(
            ratio(visits[CURRENT]["repeat"], visits[CURRENT]["active"]),
            ratio(visits[PREVIOUS]["repeat"], visits[PREVIOUS]["active"]),
        ),
        favorites_added=count_metric(added[CURRENT], added[PREVIOUS]),
        favorites_removed=count_metric(removed[CURRENT], removed[PREVIOUS]),
        favorites_net=count_metric(
            added[CURRENT] - removed[CURRENT], added[PREVIOUS] - removed[PREVIOUS]
        ),
        favoriters=count_metric(
            repo.favoriters(day_start(w.last + 1)), repo.favoriters(day_start(w.first))
        ),
    )


def _worth(repo: DashboardRepository, w: _Window) -> WorthOut:
    sales = {int(r["day"]): r for r in repo.daily_sales(w.previous_first, w.last)}

    def total(column: str, span: range) -> int:
        return sum(int(sales[d][column]) for d in span if d in sales)

    spans = (w.previous_days, w.current_days)
    paid, refunded, orders = (
        [total(column, span) for span in spans]
        for column in ("paid_fen", "refunded_fen", "paid_orders")
    )
    gmv = [paid[p] - refunded[p] for p in (PREVIOUS, CURRENT)]
    buyers = _by_period(repo.buyers(w.previous_first, w.last, w.first), "buyers", "repeat")
    aov = [average_fen(paid[p], orders[p]) for p in (PREVIOUS, CURRENT)]
    daily = []
    for d in w.current_days:
        row = sales.get(d, {})
        paid_fen, refunded_fen = int(row.get("paid_fen", 0)), int(row.get("refunded_fen", 0))
        daily.append(
            SalesDay(
                day=day_of(d),
                paid_orders=int(row.get("paid_orders", 0)),
                paid_fen=paid_fen,
                refunded_fen=refunded_fen,
                gmv_fen=paid_fen - refunded_fen,
            )
        )
    return WorthOut(
        gmv_fen=count_metric(gmv[CURRENT], gmv[PREVIOUS]),
        paid_fen=count_metric(paid[CURRENT], paid[PREVIOUS]),
        refunded_fen=count_metric(refunded[CURRENT], refunded[PREVIOUS]),
        paid_orders=count_metric(orders[CURRENT], orders[PREVIOUS]),
        average_order_value_fen=fen_metric(aov[CURRENT], aov[PREVIOUS]),
        buyers=count_metric(buyers[CURRENT]["buyers"], buyers[PREVIOUS]["buyers"]),
        repeat_buyers=count_metric(buyers[CURRENT]["repeat"], buyers[PREVIOUS]["repeat"]),
        repurchase_rate=rate_metric(
            ratio(buyers[CURRENT]["repeat"], buyers[CURRENT]["buyers"]),
            ratio(buyers[PREVIOUS]["repeat"], buyers[PREVIOUS]["buyers"]),
        ),
        daily=daily,
    )


def _efficiency(
    db: Session,
    repo: DashboardRepository,
    w: _Window,
    *,
    new_customers: CountMetric,
    gmv_fen: CountMetric,
    now: datetime,
) -> EfficiencyOut:
    sources = queries.SPEND_SOURCES
    fen: dict[str, list[int]] = {s.key: [0, 0] for s in sources}
    for row in repo.spend(w.previous_first, w.last, w.first):
        if str(row["source"]) in fen:
            fen[str(row["source"])][int(row["period"])] += int(row["fen"] or 0)
    spend = [sum(v[p] for v in fen.values()) for p in (PREVIOUS, CURRENT)]
    new = (new_customers.previous, new_customers.current)
    gmv = (gmv_fen.previous, gmv_fen.current)
    cost = [average_fen(spend[p], new[p]) for p in (PREVIOUS, CURRENT)]
    per_fen = [ratio(gmv[p], spend[p]) for p in (PREVIOUS, CURRENT)]
    return EfficiencyOut(
        spend_fen=count_metric(spend[CURRENT], spend[PREVIOUS]),
        by_source=[
            SpendOut(
                source=s.key,
                event_type=s.event_type,
                current_fen=fen[s.key][CURRENT],
                previous_fen=fen[s.key][PREVIOUS],
            )
            for s in sources
        ],
        cost_per_new_customer_fen=fen_metric(cost[CURRENT], cost[PREVIOUS]),
        gmv_per_spend_fen=rate_metric(per_fen[CURRENT], per_fen[PREVIOUS]),
        campaigns=campaign_roi(db, repo.analytics, repo.merchant_id, day_start(w.first), now),
    )


def campaign_roi(
    db: Session, analytics: AnalyticsStore | None, merchant_id: int, since: datetime, now: datetime
) -> list[CampaignRoiOut]:
    """The merchant's campaigns started in the period, with what each cost and brought
    against its holdout (the campaigns product's results)."""
    tenant = Tenant(merchant_ids=frozenset({merchant_id}))
    return [
        CampaignRoiOut(
            campaign_id=campaign.id,
            name=campaign.name,
            cost_fen=result.cost_fen,
            incremental_gmv_fen=result.incremental_gmv_fen,
            roi=result.roi,
        )
        for campaign, result in campaigns.roi_rows(db, tenant, analytics, merchant_id, since, now)
    ]
