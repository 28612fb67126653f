"""ISV pages: the operator's ISV directory; the ISV's own authorized merchants (P)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from ccare.isvs import service
from ccare.web.deps import DbSession
from ccare.web.pages import IsvUser, OperatorUser
from ccare.web.routing import api_router
from ccare.web.templating import render

router = api_router(tags=["console"])


@router.get("/console/operator/isvs")
def operator_isvs(request: Request, db: DbSession, operator: OperatorUser) -> Response:
    isvs = service.list_isvs(db, operator)
    grants = service.list_grants(db, operator)
    live: dict[int, int] = {}
    for g in grants:
        if (g.status.value if hasattr(g.status, "value") else g.status) == "active":
            live[g.isv_id] = live.get(g.isv_id, 0) + 1
    return render(request, "isvs/operator_isvs.html", isvs=isvs, live_grants=live)


@router.get("/console/isv")
def isv_home(request: Request, db: DbSession, isv: IsvUser) -> Response:
    from ccare.merchants import service as merchants

    grants = service.list_grants(db, isv)
    names = {m.id: m for m in merchants.list_merchants(db, isv.tenant, limit=500)}
    return render(
        request,
        "isvs/isv_merchants.html",
        grants=grants,
        merchants=names,
        me=service.get_isv(db, isv, isv.isv_id) if isv.isv_id else None,
    )
