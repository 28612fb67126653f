"""The merchant's promotion page: plans with their ad groups and creatives (and each
creative's review), and the placements with their reserve prices. Editing is through the
API for now."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from ccare.promotion import service
from ccare.web.deps import DbSession
from ccare.web.pages import MerchantUser
from ccare.web.routing import api_router
from ccare.web.templating import render

router = api_router(tags=["console"])


@router.get("/console/merchant/promotion")
def promotion_page(request: Request, db: DbSession, staff: MerchantUser) -> Response:
    plans = service.list_plans(db, staff.tenant)
    groups = {p.id: service.list_groups(db, staff.tenant, p.id) for p in plans}
    creatives = {
        g.id: service.list_creatives(db, staff.tenant, group_id=g.id)
        for gs in groups.values()
        for g in gs
    }
    return render(
        request,
        "promotion/merchant_promotion.html",
        plans=plans,
        groups=groups,
        creatives=creatives,
        placements=service.placements(),
    )


from ccare.promotion import report_console  # noqa: E402

router.include_router(report_console.router)
