"""The C-CARE dashboard API: one merchant's Scale, Active, woRth and Efficiency numbers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ccare.dashboard import service
from ccare.dashboard.schemas import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, CcareDashboard
from ccare.web.deps import CurrentStaff, DbSession, RuntimeDep
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1/dashboard", tags=["dashboard"])

MerchantParam = Annotated[
    int | None,
    Query(gt=0, lt=2**62, description="ISVs and operators: which merchant"),
]
# The range is checked by the service, so that a bad value is refused with its own code
# (`dashboard.invalid_days`); the schema still shows it.
DaysParam = Annotated[
    int,
    Query(
        description=f"period length in local days (UTC+8), {MIN_DAYS}–{MAX_DAYS}",
        json_schema_extra={"minimum": MIN_DAYS, "maximum": MAX_DAYS},
    ),
]


@router.get(
    "/ccare",
    response_model=CcareDashboard,
    summary="C-CARE: new customers, activity, GMV and marketing efficiency, with deltas",
    description=(
        "The merchant's numbers for the last `days` local days (UTC+8) up to and including "
        "today, and for the `days` before them: new customers by acquisition channel "
        "(Scale), daily and weekly active customers, repeat visits and favorites (Active), "
        "GMV, order value and repurchase (Worth), marketing spend, cost per new customer "
        "and GMV per fen of spend (Efficiency). Computed from the analytics events, which "
        "trail the orders and coupons by the relay delay. `days` outside "
        f"{MIN_DAYS}–{MAX_DAYS} is refused with `dashboard.invalid_days` (422)."
    ),
)
def get_ccare(
    db: DbSession,
    runtime: RuntimeDep,
    staff: CurrentStaff,
    merchant_id: MerchantParam = None,
    days: DaysParam = DEFAULT_DAYS,
) -> CcareDashboard:
    return service.ccare(db, runtime.analytics, staff, merchant_id=merchant_id, days=days)
