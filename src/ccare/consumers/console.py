"""Consumer pages for the operator: the platform's consumer directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response

from ccare.consumers import service
from ccare.web.deps import DbSession
from ccare.web.pages import OperatorUser
from ccare.web.routing import api_router
from ccare.web.templating import render

router = api_router(tags=["console"])

PAGE_SIZE = 50


@router.get("/console/operator/consumers")
def operator_consumers(
    request: Request,
    db: DbSession,
    operator: OperatorUser,
    city: Annotated[str | None, Query(max_length=50)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    city = (city or "").strip() or None
    rows = service.list_consumers(db, city=city, limit=PAGE_SIZE, offset=offset)
    base = "/console/operator/consumers?" + (f"city={city}&" if city else "")
    return render(
        request,
        "consumers/operator_consumers.html",
        consumers=rows,
        city=city or "",
        page_prev=f"{base}offset={max(offset - PAGE_SIZE, 0)}" if offset else None,
        page_next=f"{base}offset={offset + PAGE_SIZE}" if len(rows) == PAGE_SIZE else None,
    )
