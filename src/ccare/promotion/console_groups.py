"""An ad group's page: its targeting, the bid (HTMX form), pause / resume / end, its
creatives with their review, and the new-creative form landing on one of the merchant's
mini-programs, optionally carrying one of its coupons. Another merchant's group is a 404."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal
from ccare.coupons import service as coupons
from ccare.promotion import service
from ccare.promotion.console_plans import bid_targets
from ccare.promotion.console_texts import (
    GROUPS,
    LABELS,
    error_text,
    go,
    is_htmx,
    money,
    status_of,
    text,
    whole,
)
from ccare.promotion.models import AdGroup, AdStatus
from ccare.promotion.schemas import CreativeCreate, GroupUpdate
from ccare.segments import service as segments
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect, run_once, safe_next
from ccare.web.routing import api_router
from ccare.web.templating import render, translate, yuan_input

router = api_router(tags=["console"])

GROUP = GROUPS + "/{group_id}"
CREATIVE_FIELDS = ("title", "description", "mini_program_id", "page", "coupon_activity_id")
# Coupons an ad may still hand out.
OPEN_COUPONS = ("draft", "active", "paused")
SAVED = N_("Saved.")
CREATED = N_("Ad group created: add a creative; it serves once approved.")
SUBMITTED = N_("Creative submitted: it serves once the platform approves it.")


def _bid_form(group: AdGroup, values: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    roi = group.target_roi_bp
    return {
        "values": values
        or {
            "bid": yuan_input(group.bid_fen),
            "target_cpa": yuan_input(group.target_cpa_fen),
            "target_roi": "" if roi is None else yuan_input(roi // 100),
        },
        **extra,
    }


def _creative_form(
    db: Session,
    staff: Principal,
    group: AdGroup,
    values: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    mini_programs = catalog.list_mini_programs(db, staff.tenant, merchant_id=group.merchant_id)
    activities = coupons.list_activities(db, staff.tenant, group.merchant_id)
    return {
        "values": values or dict.fromkeys(CREATIVE_FIELDS, "") | {"page": "pages/index/index"},
        "mini_programs": mini_programs,
        "coupons": [a for a in activities if a.status in OPEN_COUPONS],
        "coupon_names": {a.id: a.name for a in activities},
        **extra,
    }


def _context(db: Session, staff: Principal, group: AdGroup) -> dict[str, Any]:
    names = {s.id: s.name for s in segments.list_segments(db, staff.tenant, group.merchant_id)}
    return {
        "group": group,
        "plan": service.get_plan(db, staff.tenant, group.plan_id),
        "targeting": group.targeting,
        "segment_names": names,
        "placement_names": {p.key: p.name for p in service.placements()},
        "labels": LABELS,
        "can_manage": staff.can_manage(),
    }


def _open(db: Session, staff: Principal, group: AdGroup) -> bool:
    plan = service.get_plan(db, staff.tenant, group.plan_id)
    return AdStatus.ENDED not in (plan.status, group.status)


def _page(
    request: Request,
    db: Session,
    staff: Principal,
    group: AdGroup,
    *,
    status_code: int = 200,
    bid: dict[str, Any] | None = None,
    creative_form: dict[str, Any] | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    form = creative_form or _creative_form(db, staff, group)
    if error is None and not _open(db, staff, group):
        # The forms are gone: what refused them shows at the top of the page.
        error = (bid or {}).get("error") or (creative_form or {}).get("error")
    return render(
        request,
        "promotion/group.html",
        status_code=status_code,
        creatives=service.list_creatives(db, staff.tenant, group_id=group.id),
        landing_names={m.id: m.name for m in form["mini_programs"]},
        bid=bid or _bid_form(group),
        creative_form=form,
        notice=notice,
        error=error,
        **_context(db, staff, group),
    )


@router.get(GROUP)
def group_page(
    request: Request,
    group_id: PageId,
    db: DbSession,
    staff: MerchantUser,
    created: str = "",
    saved: str = "",
) -> Response:
    try:
        group = service.get_group(db, staff.tenant, group_id)
    except DomainError as exc:
        return error_page(request, exc)
    notice = {"group": CREATED, "creative": SUBMITTED}.get(created) or (SAVED if saved else None)
    return _page(request, db, staff, group, notice=translate(request, notice) if notice else None)


@router.post(GROUP + "/bid")
async def update_bid(
    request: Request, group_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    posted = await request.form()
    values = {k: text(posted, k) for k in ("bid", "target_cpa", "target_roi")}
    try:
        group = service.get_group(db, staff.tenant, group_id)
    except DomainError as exc:
        return error_page(request, exc)
    try:
        changes = {"bid_fen": money(posted, "bid") if values["bid"] else ""}
        changes |= {k: v for k, v in bid_targets(posted, group.bid_type).items() if v is not None}
        group = service.update_group(db, staff, group_id, GroupUpdate.model_validate(changes))
    except (DomainError, ValidationError) as exc:
        db.rollback()
        group = service.get_group(db, staff.tenant, group_id)
        bid = _bid_form(group, values, error=error_text(request, exc))
        if not is_htmx(request):
            return _page(request, db, staff, group, status_code=status_of(exc), bid=bid)
        return render(
            request,
            "promotion/_group_bid.html",
            status_code=status_of(exc),
            bid=bid,
            **_context(db, staff, group),
        )
    if not is_htmx(request):
        return redirect(f"{GROUPS}/{group.id}?saved=1")
    return render(
        request,
        "promotion/_group_bid.html",
        bid=_bid_form(group, notice=translate(request, SAVED)),
        **_context(db, staff, group),
    )


@router.post(GROUP + "/status")
async def set_status(
    request: Request, group_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    posted = await request.form()
    back = safe_next(text(posted, "next"), f"{GROUPS}/{group_id}")
    try:
        data = GroupUpdate.model_validate({"status": text(posted, "status")})
        service.update_group(db, staff, group_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        group = service.get_group(db, staff.tenant, group_id)
        return _page(
            request, db, staff, group, status_code=status_of(exc), error=error_text(request, exc)
        )
    return redirect(back)


@router.post(GROUP + "/creatives")
async def create_creative(
    request: Request, group_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    """Once per form: a double click submits one creative for review."""
    posted = await request.form()
    try:
        group = service.get_group(db, staff.tenant, group_id)
    except DomainError as exc:
        return error_page(request, exc)
    values = {k: text(posted, k) for k in CREATIVE_FIELDS}
    try:
        data = CreativeCreate.model_validate(
            {
                "group_id": group_id,
                "title": values["title"],
                "description": values["description"],
                "mini_program_id": whole(posted, "mini_program_id"),
                "page": values["page"],
                "coupon_activity_id": whole(posted, "coupon_activity_id"),
            }
        )

        def produce() -> dict[str, int]:
            return {"id": service.create_creative(db, staff, data).id}

        run_once(
            db,
            staff,
            text(posted, "out_request_no"),
            "promotion.create_creative",
            data.model_dump(mode="json"),
            produce,
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        group = service.get_group(db, staff.tenant, group_id)
        form = _creative_form(db, staff, group, values, error=error_text(request, exc))
        if not is_htmx(request):
            return _page(request, db, staff, group, status_code=status_of(exc), creative_form=form)
        return render(
            request,
            "promotion/_creative_form.html",
            status_code=status_of(exc),
            creative_form=form,
            **_context(db, staff, group),
        )
    return go(request, f"{GROUPS}/{group.id}?created=creative")
