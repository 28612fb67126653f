"""A plan's page: its budgets and hours (HTMX form), pause / resume / end, its ad groups,
and the new-ad-group form with bidding and targeting. Another merchant's plan is a 404."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal
from ccare.promotion import service
from ccare.promotion.console_texts import (
    GROUPS,
    HOURS,
    KEEP_HOURS,
    LABELS,
    PLANS,
    error_text,
    go,
    hours_key,
    is_htmx,
    many,
    money,
    ratio_bp,
    search_word,
    status_of,
    text,
    whole,
    words,
)
from ccare.promotion.models import AdPlan, AdStatus, BidType, ChargeType
from ccare.promotion.schemas import GroupCreate, PlanUpdate
from ccare.segments import service as segments
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect, run_once, safe_next
from ccare.web.routing import api_router
from ccare.web.templating import render, translate, yuan_input

router = api_router(tags=["console"])

PLAN = PLANS + "/{plan_id}"
LEVELS = ("public", "gold", "platinum", "diamond")
GROUP_TEXT = (
    "name",
    "bid_type",
    "bid",
    "target_cpa",
    "target_roi",
    "cities",
    "search_words",
    "frequency_per_day",
    "exclude_converted",
)
GROUP_LISTS = ("placements", "segments_include", "segments_exclude", "member_levels")
SAVED = N_("Saved.")
CREATED = N_("Plan created: add an ad group to start serving.")


def group_values(form: FormData | None = None) -> dict[str, Any]:
    if form is None:
        return (
            dict.fromkeys(GROUP_TEXT, "")
            | dict.fromkeys(GROUP_LISTS, [])
            | {"bid_type": BidType.MANUAL.value}
        )
    return {k: text(form, k) for k in GROUP_TEXT} | {k: many(form, k) for k in GROUP_LISTS}


def _group_form(
    db: Session, staff: Principal, plan: AdPlan, values: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    cpm = plan.charge_type == ChargeType.CPM
    return {
        "values": values or group_values(),
        "placements": [p for p in service.placements() if p.auctioned and (p.cpm or not cpm)],
        "cpm": cpm,
        "segments": segments.list_segments(db, staff.tenant, plan.merchant_id),
        "levels": LEVELS,
        "bid_types": [b.value for b in BidType],
        **extra,
    }


def _budget_form(
    plan: AdPlan, values: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "values": values
        or {
            "daily_budget": yuan_input(plan.daily_budget_fen),
            "total_budget": yuan_input(plan.total_budget_fen),
            "hours": hours_key(plan.hours),
        },
        **extra,
    }


def _context(db: Session, staff: Principal, plan: AdPlan) -> dict[str, Any]:
    return {
        "plan": plan,
        "labels": LABELS,
        "hours": HOURS,
        "keep_hours": KEEP_HOURS,
        "hours_key": hours_key(plan.hours),
        "served_hours": plan.hours.count("1"),
        "placement_names": {p.key: p.name for p in service.placements()},
        "can_manage": staff.can_manage(),
    }


def _page(
    request: Request,
    db: Session,
    staff: Principal,
    plan: AdPlan,
    *,
    status_code: int = 200,
    budget: dict[str, Any] | None = None,
    group_form: dict[str, Any] | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> Response:
    groups = service.list_groups(db, staff.tenant, plan.id)
    if error is None and plan.status == AdStatus.ENDED:
        # The forms are gone: what refused them shows at the top of the page.
        error = (budget or {}).get("error") or (group_form or {}).get("error")
    return render(
        request,
        "promotion/plan.html",
        status_code=status_code,
        groups=groups,
        creative_counts={
            g.id: len(service.list_creatives(db, staff.tenant, group_id=g.id)) for g in groups
        },
        budget=budget or _budget_form(plan),
        group_form=group_form or _group_form(db, staff, plan),
        notice=notice,
        error=error,
        **_context(db, staff, plan),
    )


@router.get(PLAN)
def plan_page(
    request: Request,
    plan_id: PageId,
    db: DbSession,
    staff: MerchantUser,
    created: str = "",
    saved: str = "",
) -> Response:
    try:
        plan = service.get_plan(db, staff.tenant, plan_id)
    except DomainError as exc:
        return error_page(request, exc)
    notice = CREATED if created else SAVED if saved else None
    return _page(request, db, staff, plan, notice=translate(request, notice) if notice else None)


@router.post(PLAN + "/budget")
async def update_budget(
    request: Request, plan_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    posted = await request.form()
    values = {k: text(posted, k) for k in ("daily_budget", "total_budget", "hours")}
    try:
        plan = service.get_plan(db, staff.tenant, plan_id)
    except DomainError as exc:
        return error_page(request, exc)
    try:
        changes: dict[str, Any] = {
            # Empty is refused as a daily budget; it clears only the total budget.
            "daily_budget_fen": money(posted, "daily_budget") if values["daily_budget"] else "",
            "total_budget_fen": money(posted, "total_budget"),
        }
        if values["hours"] != KEEP_HOURS:
            changes["hours"] = HOURS.get(values["hours"], ("", values["hours"]))[1]
        plan = service.update_plan(db, staff, plan_id, PlanUpdate.model_validate(changes))
    except (DomainError, ValidationError) as exc:
        db.rollback()
        plan = service.get_plan(db, staff.tenant, plan_id)
        budget = _budget_form(plan, values, error=error_text(request, exc))
        if not is_htmx(request):
            return _page(request, db, staff, plan, status_code=status_of(exc), budget=budget)
        return render(
            request,
            "promotion/_plan_budget.html",
            status_code=status_of(exc),
            budget=budget,
            **_context(db, staff, plan),
        )
    if not is_htmx(request):
        return redirect(f"{PLANS}/{plan.id}?saved=1")
    return render(
        request,
        "promotion/_plan_budget.html",
        budget=_budget_form(plan, notice=translate(request, SAVED)),
        **_context(db, staff, plan),
    )


@router.post(PLAN + "/status")
async def set_status(
    request: Request, plan_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    """Pause, resume or end; back to the page the button was on."""
    posted = await request.form()
    back = safe_next(text(posted, "next"), f"{PLANS}/{plan_id}")
    try:
        data = PlanUpdate.model_validate({"status": text(posted, "status")})
        service.update_plan(db, staff, plan_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        plan = service.get_plan(db, staff.tenant, plan_id)
        return _page(
            request, db, staff, plan, status_code=status_of(exc), error=error_text(request, exc)
        )
    return redirect(back)


def group_targeting(posted: FormData) -> dict[str, Any]:
    return {
        "placements": many(posted, "placements"),
        "segments_include": many(posted, "segments_include"),
        "segments_exclude": many(posted, "segments_exclude"),
        "cities": words(posted, "cities"),
        "member_levels": many(posted, "member_levels"),
        "search_words": [search_word(w) for w in words(posted, "search_words")],
        "exclude_converted": bool(text(posted, "exclude_converted")),
    }


def bid_targets(posted: FormData, bid_type: str) -> dict[str, Any]:
    """Only the target the bid type uses: the other field may still hold a typed value."""
    return {
        "target_cpa_fen": money(posted, "target_cpa") if bid_type == BidType.OCPC else None,
        "target_roi_bp": ratio_bp(posted, "target_roi") if bid_type == BidType.TARGET_ROI else None,
    }


@router.post(PLAN + "/groups")
async def create_group(
    request: Request, plan_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    """Once per form: a double click makes one group."""
    posted = await request.form()
    try:
        plan = service.get_plan(db, staff.tenant, plan_id)
    except DomainError as exc:
        return error_page(request, exc)
    values = group_values(posted)
    try:
        bid_type = values["bid_type"] or BidType.MANUAL.value
        data = GroupCreate.model_validate(
            {
                "plan_id": plan_id,
                "name": values["name"],
                "bid_type": bid_type,
                "bid_fen": money(posted, "bid"),
                **bid_targets(posted, bid_type),
                "targeting": group_targeting(posted),
                "frequency_per_day": whole(posted, "frequency_per_day"),
            }
        )

        def produce() -> dict[str, int]:
            return {"id": service.create_group(db, staff, data).id}

        made = run_once(
            db,
            staff,
            text(posted, "out_request_no"),
            "promotion.create_group",
            data.model_dump(mode="json"),
            produce,
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        plan = service.get_plan(db, staff.tenant, plan_id)
        form = _group_form(db, staff, plan, values, error=error_text(request, exc))
        if not is_htmx(request):
            return _page(request, db, staff, plan, status_code=status_of(exc), group_form=form)
        return render(
            request,
            "promotion/_group_form.html",
            status_code=status_of(exc),
            group_form=form,
            **_context(db, staff, plan),
        )
    return go(request, f"{GROUPS}/{made['id']}?created=group")
