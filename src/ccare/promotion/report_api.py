"""The promotion reports API (its routes are added to promotion/api.py's router)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from ccare.promotion import reports
from ccare.promotion.report_schemas import AdReport, ReportBy
from ccare.web.deps import CurrentStaff, DbSession, RuntimeDep
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1/ad-reports", tags=["promotion"])

MerchantId = Annotated[
    int | None,
    Query(gt=0, lt=2**62, description="required for operators and ISVs; staff: their own"),
]
By = Annotated[ReportBy, Query(description="the rows: plan, group, creative, day or placement")]
From = Annotated[
    date | None,
    Query(alias="from", description="first local day (UTC+8); default: 6 days before `to`"),
]
To = Annotated[
    date | None,
    Query(alias="to", description="last local day, included; default: today. At most 92 days"),
]
PlanId = Annotated[int | None, Query(gt=0, lt=2**62, description="only this plan's traffic")]
GroupId = Annotated[int | None, Query(gt=0, lt=2**62, description="only this ad group's")]


@router.get(
    "",
    response_model=AdReport,
    summary="Spend, impressions, clicks, CTR, conversions, CPA and ROI by plan, ad group,"
    " creative, local day or placement, with totals (from the analytics events; a range"
    " over 92 days or ending before it starts is promotion.report_range)",
)
def ad_report(
    db: DbSession,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    merchant_id: MerchantId = None,
    by: By = ReportBy.DAY,
    start: From = None,
    end: To = None,
    plan_id: PlanId = None,
    group_id: GroupId = None,
) -> AdReport:
    return reports.report(
        db,
        staff,
        runtime.analytics,
        merchant_id=merchant_id,
        by=by,
        start=start,
        end=end,
        plan_id=plan_id,
        group_id=group_id,
    )


@router.get(
    ".csv",
    response_class=Response,
    summary="The same report as CSV: the rows, then a total row",
    responses={200: {"content": {"text/csv": {}}}},
)
def ad_report_csv(
    db: DbSession,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    merchant_id: MerchantId = None,
    by: By = ReportBy.DAY,
    start: From = None,
    end: To = None,
    plan_id: PlanId = None,
    group_id: GroupId = None,
) -> Response:
    result = ad_report(db, staff, runtime, merchant_id, by, start, end, plan_id, group_id)
    name = f"ad-report-{result.merchant_id}-{result.by.value}-{result.start_day}-{result.end_day}"
    return Response(
        reports.to_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
