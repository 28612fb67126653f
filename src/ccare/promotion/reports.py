"""Promotion reports: spend, impressions, clicks, CTR, conversions, CPA and ROI by plan,
group, creative, day and placement, from the analytics store's ad.* events.

One Ibis expression (docs/adr/0004) counts the events of the range per value of the
dimension, event type and click status, so the same query runs on DuckDB and PostgreSQL;
the names of plans, groups and creatives come from the promotion service, tenant-scoped.

The rules, also stated in the API's schema:
- clicks leave out the ones the invalid-click filter refused (reported as invalid_clicks);
- spend is the cost_millifen of impressions (CPM) and clicks (CPC) summed per row, then
  rounded down to whole fen, as billing posts only the whole fen a plan has crossed;
  the total rounds its own sum, so it may pass the rows' sum by under a fen a row;
- ratios are integers: CTR and ROI in basis points, CPA in fen, each rounded half up
  from the row's clicks, impressions, spend_fen and conversion value; null when the
  divisor is zero.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.analytics import payload_int, payload_str
from ccare.core.errors import InvalidInput, NotFound
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import local_date, local_day_start, utcnow
from ccare.merchants import service as merchants
from ccare.promotion import service
from ccare.promotion.placements import BY_KEY
from ccare.promotion.report_schemas import AdMetrics, AdReport, AdReportRow, ReportBy

EVENT_TYPES = ("ad.impression", "ad.click", "ad.conversion")
DEFAULT_DAYS = 7
MAX_DAYS = 92
# Days the platform can have events on; beyond them date arithmetic would overflow.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
INVALID = "invalid"
SECONDS_PER_DAY = 86_400
LOCAL_OFFSET_SECONDS = 8 * 3_600
EPOCH = date(1970, 1, 1)
# A JSON null id read as text (brand bookings have no plan or group).
NULL_TEXT = "null"

Key = int | str | None


@dataclass
class Counts:
    impressions: int = 0
    clicks: int = 0
    invalid_clicks: int = 0
    cost_millifen: int = 0
    conversions: int = 0
    conversion_value_fen: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator to the nearest integer, halves up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def metrics(c: Counts) -> dict[str, Any]:
    spend = c.cost_millifen // 1000
    return {
        "impressions": c.impressions,
        "clicks": c.clicks,
        "invalid_clicks": c.invalid_clicks,
        "spend_fen": spend,
        "ctr_bp": half_up(c.clicks * 10_000, c.impressions) if c.impressions else None,
        "conversions": c.conversions,
        "conversion_value_fen": c.conversion_value_fen,
        "cpa_fen": half_up(spend, c.conversions) if c.conversions else None,
        "roi_bp": half_up(c.conversion_value_fen * 10_000, spend) if spend else None,
    }


def date_range(
    start: date | None, end: date | None, now: datetime | None = None
) -> tuple[date, date]:
    """The local days asked for: by default the last 7 including today; at most 92."""
    end = end or local_date(now or utcnow())
    if not EARLIEST <= end <= LATEST or (start is not None and start < EARLIEST):
        raise InvalidInput(
            f"choose days from {EARLIEST} to {LATEST}", code="promotion.report_range"
        )
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start or (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(
            f"choose from ≤ to, at most {MAX_DAYS} days apart",
            code="promotion.report_range",
            max_days=MAX_DAYS,
        )
    return start, end


def _id_text(e: Any, key: str) -> Any:
    # The JSON number as text: the same comparison on DuckDB and PostgreSQL.
    return e.payload[key].cast("string")


def _key_of(e: Any, by: ReportBy) -> Any:
    if by == ReportBy.DAY:
        seconds = e.occurred_at.epoch_seconds().cast("float64") + LOCAL_OFFSET_SECONDS
        return (seconds / SECONDS_PER_DAY).floor().cast("int64")
    if by == ReportBy.PLACEMENT:
        return payload_str(e, "placement")
    return _id_text(e, f"{by.value}_id")


def _parse_key(raw: Any, by: ReportBy) -> Key:
    if raw is None or raw == NULL_TEXT:
        return None
    return str(raw) if by == ReportBy.PLACEMENT else int(raw)


def event_counts(
    analytics: Any,
    merchant_id: int,
    by: ReportBy,
    start: date,
    end: date,
    *,
    plan_id: int | None = None,
    group_id: int | None = None,
) -> dict[Key, Counts]:
    """The merchant's counts per value of `by` over the local days start..end (by day:
    the day number since 1970-01-01); no analytics store gives nothing."""
    if analytics is None:
        return {}
    t = analytics.events_table()
    e = t.filter(
        t.type.isin(list(EVENT_TYPES))
        & (t.merchant_id == merchant_id)
        & (t.occurred_at >= local_day_start(start))
        & (t.occurred_at < local_day_start(end + timedelta(days=1)))
    )
    if plan_id is not None:
        e = e.filter(_id_text(e, "plan_id") == str(plan_id))
    if group_id is not None:
        e = e.filter(_id_text(e, "group_id") == str(group_id))
    e = e.select(
        key=_key_of(e, by),
        type=e.type,
        status=payload_str(e, "status"),
        cost=payload_int(e, "cost_millifen"),
        value=payload_int(e, "value_fen"),
    )
    expr = e.group_by(["key", "type", "status"]).aggregate(
        n=e.count(), cost=e.cost.sum(), value=e.value.sum()
    )
    out: dict[Key, Counts] = {}
    for row in expr.to_pyarrow().to_pylist():
        c = out.setdefault(_parse_key(row["key"], by), Counts())
        n, cost = int(row["n"]), int(row["cost"] or 0)
        if row["type"] == "ad.impression":
            c.impressions += n
            c.cost_millifen += cost
        elif row["type"] == "ad.click":
            if row["status"] == INVALID:
                c.invalid_clicks += n
            else:
                c.clicks += n
            c.cost_millifen += cost
        else:
            c.conversions += n
            c.conversion_value_fen += int(row["value"] or 0)
    return out


@dataclass(frozen=True)
class Named:
    name: str | None
    plan_id: int | None = None
    group_id: int | None = None


def _names(db: Session, tenant: Tenant, merchant_id: int, by: ReportBy) -> dict[Key, Named]:
    """What the rows are called, from the promotion service (tenant-scoped)."""
    if by == ReportBy.PLACEMENT:
        return {key: Named(p.name) for key, p in BY_KEY.items()}
    if by == ReportBy.DAY:
        return {}
    plans = service.list_plans(db, tenant, merchant_id)
    if by == ReportBy.PLAN:
        return {p.id: Named(p.name, p.id) for p in plans}
    groups = [g for p in plans for g in service.list_groups(db, tenant, p.id)]
    if by == ReportBy.GROUP:
        return {g.id: Named(g.name, g.plan_id, g.id) for g in groups}
    return {
        c.id: Named(c.title, g.plan_id, g.id)
        for g in groups
        for c in service.list_creatives(db, tenant, group_id=g.id)
    }


def _check_filters(
    db: Session, tenant: Tenant, merchant_id: int, plan_id: int | None, group_id: int | None
) -> None:
    """Filters name the merchant's own plan and group (else 404, as ids leak nothing)."""
    if plan_id is not None and service.get_plan(db, tenant, plan_id).merchant_id != merchant_id:
        raise NotFound("no such plan", code="promotion.plan_not_found")
    if group_id is not None:
        group = service.get_group(db, tenant, group_id)
        if group.merchant_id != merchant_id or plan_id not in (None, group.plan_id):
            raise NotFound("no such ad group", code="promotion.group_not_found")


def _row(by: ReportBy, key: Key, named: Named | None, c: Counts) -> AdReportRow:
    dims: dict[str, Any] = {}
    if by == ReportBy.DAY:
        dims["day"] = EPOCH + timedelta(days=int(key or 0))
    elif by == ReportBy.PLACEMENT:
        dims["placement"] = key
    else:
        if named is not None:
            dims = {"plan_id": named.plan_id, "group_id": named.group_id}
        dims[f"{by.value}_id"] = key
    return AdReportRow(**metrics(c), **dims, name=named.name if named else None)


def report(
    db: Session,
    actor: Principal,
    analytics: Any,
    *,
    merchant_id: int | None = None,
    by: ReportBy = ReportBy.DAY,
    start: date | None = None,
    end: date | None = None,
    plan_id: int | None = None,
    group_id: int | None = None,
    now: datetime | None = None,
) -> AdReport:
    """The merchant's report: merchant staff read their own (merchant_id implied), ISV
    staff a merchant that granted them, operators any named merchant."""
    merchant = merchants.merchant_for(db, actor, merchant_id, code="promotion.merchant_required")
    start, end = date_range(start, end, now)
    _check_filters(db, actor.tenant, merchant, plan_id, group_id)
    counts = event_counts(analytics, merchant, by, start, end, plan_id=plan_id, group_id=group_id)
    names = _names(db, actor.tenant, merchant, by)
    total = Counts()
    for c in counts.values():
        total.add(c)
    if by == ReportBy.DAY:
        first = (start - EPOCH).days
        keys: list[Key] = list(range(first, first + (end - start).days + 1))
    else:
        keys = sorted(counts, key=lambda k: _rank(counts[k], k))
    return AdReport(
        merchant_id=merchant,
        by=by,
        start_day=start,
        end_day=end,
        plan_id=plan_id,
        group_id=group_id,
        rows=[_row(by, k, names.get(k), counts.get(k, Counts())) for k in keys],
        total=AdMetrics(**metrics(total)),
    )


def _rank(c: Counts, key: Key) -> tuple[int, int, bool, int, str]:
    # Most spend, then most impressions; then ids ascending, brand bookings (no id) last.
    return (
        -c.cost_millifen,
        -c.impressions,
        key is None,
        key if isinstance(key, int) else 0,
        str(key),
    )


CSV_METRICS = tuple(AdMetrics.model_fields)
CSV_DIMENSIONS = ("plan_id", "group_id", "creative_id", "day", "placement", "name")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def to_csv(report_: AdReport) -> str:
    """The report's rows and a final 'total' row, the API's fields as columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CSV_DIMENSIONS, *CSV_METRICS])
    for row in report_.rows:
        data = row.model_dump(mode="json")
        writer.writerow([_cell(data[k]) for k in (*CSV_DIMENSIONS, *CSV_METRICS)])
    totals = report_.total.model_dump(mode="json")
    writer.writerow(["", "", "", "", "", "total", *(_cell(totals[k]) for k in CSV_METRICS)])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A name a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in FORMULA_STARTS else text
