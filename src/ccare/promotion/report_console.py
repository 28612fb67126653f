"""The merchant's promotion report page (included by promotion/console.py): a plain GET
form (rows by plan, group, creative, day or placement; from, to; a plan), key figures,
spend and clicks per day, spend and clicks per row of the chosen dimension, the table
with every metric and its CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from ccare.core.errors import DomainError, InvalidInput
from ccare.core.tenancy import Principal
from ccare.promotion import reports, service
from ccare.promotion.console_texts import PAGE, error_text
from ccare.promotion.placements import BY_KEY
from ccare.promotion.report_schemas import AdMetrics, AdReport, AdReportRow, ReportBy
from ccare.web.deps import DbSession, runtime_of
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser
from ccare.web.routing import api_router
from ccare.web.templating import render, translate

router = api_router(tags=["console"])

REPORTS = PAGE + "/reports"
BY_LABELS: dict[str, str] = {
    "day": N_("Day"),
    "plan": N_("Ad plan"),
    "group": N_("Ad group"),
    "creative": N_("Creative"),
    "placement": N_("Placement"),
}
BOOKINGS = N_("Brand bookings")
ERRORS = {
    "promotion.report_by": N_("Choose how to break the report down from the list."),
    "promotion.report_day": N_("Enter the days as YYYY-MM-DD."),
    "promotion.report_plan": N_("Choose one of your ad plans."),
    "promotion.report_range": N_(
        "Choose at most 92 days, from a first day to a last day that is not before it."
    ),
}
From = Annotated[str, Query(alias="from", max_length=40)]
To = Annotated[str, Query(alias="to", max_length=40)]
Text = Annotated[str, Query(max_length=40)]


@dataclass(frozen=True)
class Asked:
    """The form as typed, and what it asks for once read."""

    values: dict[str, str]
    by: ReportBy
    start: date | None
    end: date | None
    plan_id: int | None


def _read(by: str, start: str, end: str, plan: str) -> Asked:
    values = {"by": by or "day", "from": start.strip(), "to": end.strip(), "plan": plan}
    if values["by"] not in BY_LABELS:
        raise InvalidInput("unknown dimension", code="promotion.report_by")
    try:
        first = date.fromisoformat(values["from"]) if values["from"] else None
        last = date.fromisoformat(values["to"]) if values["to"] else None
    except ValueError as exc:
        raise InvalidInput("not a date", code="promotion.report_day") from exc
    if plan and not (plan.isascii() and plan.isdigit() and 0 < int(plan) < 2**62):
        raise InvalidInput("not a plan id", code="promotion.report_plan")
    return Asked(values, ReportBy(values["by"]), first, last, int(plan) if plan else None)


def _label(request: Request, by: ReportBy, row: AdReportRow) -> str:
    if by == ReportBy.DAY and row.day is not None:
        return row.day.isoformat()
    if by == ReportBy.PLACEMENT and row.placement is not None:
        placement = BY_KEY.get(row.placement)
        return translate(request, placement.name) if placement else row.placement
    if row.name is not None:
        return row.name
    key = getattr(row, f"{by.value}_id", None)
    return f"#{key}" if key is not None else translate(request, BOOKINGS)


def percent(bp: int | None) -> str:
    """Basis points as a percentage with two decimals: 3333 -> '33.33%'."""
    return "—" if bp is None else f"{bp // 100:,}.{bp % 100:02d}%"


def times(bp: int | None) -> str:
    """ROI basis points as a ratio with two decimals, halves up: 456790 -> '45.68'."""
    if bp is None:
        return "—"
    hundredths = reports.half_up(bp, 100)
    return f"{hundredths // 100:,}.{hundredths % 100:02d}"


def _figures(m: AdMetrics) -> dict[str, Any]:
    return {**m.model_dump(), "ctr": percent(m.ctr_bp), "roi": times(m.roi_bp)}


def _charts(request: Request, days: AdReport, result: AdReport) -> dict[str, Any]:
    daily = {
        "labels": [r.day.strftime("%m-%d") for r in days.rows if r.day is not None],
        "spend": [r.spend_fen / 100 for r in days.rows],
        "clicks": [r.clicks for r in days.rows],
    }
    by_row = {
        "labels": [_label(request, result.by, r) for r in result.rows],
        "spend": [r.spend_fen / 100 for r in result.rows],
        "clicks": [r.clicks for r in result.rows],
    }
    return {"daily": daily, "by_row": by_row}


def _page(
    request: Request,
    db: Session,
    staff: Principal,
    values: dict[str, str],
    *,
    result: AdReport | None = None,
    days: AdReport | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    ctx: dict[str, Any] = {"report": None}
    if result is not None and days is not None:
        ctx = {
            "report": result,
            "rows": [{"label": _label(request, result.by, r), **_figures(r)} for r in result.rows],
            "total": _figures(result.total),
            "charts": _charts(request, days, result),
        }
    return render(
        request,
        "promotion/reports.html",
        status_code=status_code,
        values=values,
        by_labels=BY_LABELS,
        plans=service.list_plans(db, staff.tenant),
        form_error=error,
        csv_url=f"{REPORTS}.csv?{request.url.query}",
        **ctx,
    )


def _run(request: Request, db: Session, staff: Principal, asked: Asked, by: ReportBy) -> AdReport:
    return reports.report(
        db,
        staff,
        runtime_of(request).analytics,
        by=by,
        start=asked.start,
        end=asked.end,
        plan_id=asked.plan_id,
    )


def _error(request: Request, exc: DomainError) -> str:
    known = ERRORS.get(exc.code)
    return translate(request, known) if known else error_text(request, exc)


@router.get(REPORTS)
def reports_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    by: Text = "day",
    start: From = "",
    end: To = "",
    plan: Text = "",
) -> Response:
    values = {"by": by, "from": start, "to": end, "plan": plan}
    try:
        asked = _read(by, start, end, plan)
        values = asked.values
        result = _run(request, db, staff, asked, asked.by)
        days = result if asked.by == ReportBy.DAY else _run(request, db, staff, asked, ReportBy.DAY)
    except DomainError as exc:
        return _page(
            request, db, staff, values, error=_error(request, exc), status_code=exc.status_code
        )
    values |= {"from": result.start_day.isoformat(), "to": result.end_day.isoformat()}
    return _page(request, db, staff, values, result=result, days=days)


@router.get(REPORTS + ".csv")
def reports_csv(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    by: Text = "day",
    start: From = "",
    end: To = "",
    plan: Text = "",
) -> Response:
    """The table as CSV (the API's columns); a bad form gets the page with its error."""
    try:
        asked = _read(by, start, end, plan)
        result = _run(request, db, staff, asked, asked.by)
    except DomainError as exc:
        values = {"by": by, "from": start, "to": end, "plan": plan}
        return _page(
            request, db, staff, values, error=_error(request, exc), status_code=exc.status_code
        )
    name = f"ad-report-{result.by.value}-{result.start_day}-{result.end_day}.csv"
    return Response(
        reports.to_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
