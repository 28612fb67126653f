"""The operator's creative review: creatives waiting for review across merchants, oldest
first, each approved or rejected in place (a rejection says why: the merchant reads it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.core.errors import DomainError, NotFound
from ccare.core.tenancy import Principal
from ccare.coupons import service as coupons
from ccare.merchants import service as merchants
from ccare.promotion import service
from ccare.promotion.console_texts import (
    LABELS,
    REVIEWS,
    error_text,
    is_htmx,
    status_of,
    text,
)
from ccare.promotion.models import AdCreative
from ccare.promotion.schemas import ReviewRequest
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import OperatorUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import render, translate

router = api_router(tags=["console"])

PAGE_SIZE = 50
REVIEWED = N_("Review saved.")


class _Names:
    """Names of merchants, landings and coupons, each read once per request."""

    def __init__(self, db: Session, operator: Principal) -> None:
        self.db, self.tenant = db, operator.tenant
        self.cache: dict[tuple[str, int], str] = {}

    def _get(self, kind: str, key: int) -> str:
        if (kind, key) not in self.cache:
            read = {
                "merchant": lambda: merchants.get_merchant(self.db, self.tenant, key).name,
                "landing": lambda: catalog.get_mini_program(self.db, self.tenant, key).name,
                "coupon": lambda: coupons.get_activity(self.db, self.tenant, key).name,
            }[kind]
            try:
                self.cache[(kind, key)] = read()
            except NotFound:
                self.cache[(kind, key)] = f"#{key}"
        return self.cache[(kind, key)]

    def row(self, creative: AdCreative, group: str, plan: str) -> dict[str, Any]:
        coupon = creative.coupon_activity_id
        return {
            "c": creative,
            "group": group,
            "plan": plan,
            "merchant": self._get("merchant", creative.merchant_id),
            "landing": self._get("landing", creative.mini_program_id),
            "coupon": None if coupon is None else self._get("coupon", coupon),
        }


def _row(db: Session, operator: Principal, creative: AdCreative, **extra: Any) -> dict[str, Any]:
    group = service.get_group(db, operator.tenant, creative.group_id)
    plan = service.get_plan(db, operator.tenant, group.plan_id)
    return _Names(db, operator).row(creative, group.name, plan.name) | extra


def _page(
    request: Request,
    db: Session,
    operator: Principal,
    offset: int = 0,
    *,
    status_code: int = 200,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    pending, total = service.review_queue(db, operator, PAGE_SIZE, offset)
    names = _Names(db, operator)
    rows = [names.row(*found) for found in pending]
    return render(
        request,
        "promotion/operator_reviews.html",
        status_code=status_code,
        rows=rows,
        total=total,
        labels=LABELS,
        notice=notice,
        error=error,
        page_prev=f"{REVIEWS}?offset={max(offset - PAGE_SIZE, 0)}" if offset else None,
        page_next=f"{REVIEWS}?offset={offset + PAGE_SIZE}" if len(rows) == PAGE_SIZE else None,
    )


@router.get(REVIEWS)
def reviews_page(
    request: Request,
    db: DbSession,
    operator: OperatorUser,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    reviewed: str = "",
) -> Response:
    notice = translate(request, REVIEWED) if reviewed else None
    return _page(request, db, operator, offset, notice=notice)


@router.post(REVIEWS + "/{creative_id}")
async def review(
    request: Request, creative_id: PageId, db: DbSession, operator: OperatorUser
) -> Response:
    """To HTMX answers the row with its decision; a plain POST goes back to the queue."""
    posted = await request.form()
    note = text(posted, "note")
    try:
        data = ReviewRequest.model_validate(
            {"decision": text(posted, "decision"), "note": note or None}
        )
        creative = service.review_creative(db, operator, creative_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        error = error_text(request, exc)
        if not is_htmx(request):
            return _page(request, db, operator, status_code=status_of(exc), error=error)
        creative = service.get_creative(db, operator.tenant, creative_id)
        return render(
            request,
            "promotion/_review_row.html",
            status_code=status_of(exc),
            row=_row(db, operator, creative, error=error, note=note),
            labels=LABELS,
        )
    if not is_htmx(request):
        return redirect(f"{REVIEWS}?reviewed=1")
    return render(
        request,
        "promotion/_review_row.html",
        row=_row(db, operator, creative, saved=True),
        labels=LABELS,
    )
