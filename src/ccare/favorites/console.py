"""The favorites pages: the merchant's favorites of each mini-program (the daily chart,
the favoriters for recall, the gift and benefit settings); the app's toggle and benefit
claims are in `app_pages.py`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.catalog import service as catalog
from ccare.core.errors import DomainError
from ccare.coupons import service as coupons
from ccare.favorites import report, service, settings
from ccare.favorites.app_pages import app_router
from ccare.favorites.schemas import SettingsIn
from ccare.web.deps import DbSession, RuntimeDep
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, translate

router = api_router(tags=["console"])

PAGE = "/console/merchant/favorites"
FAVORITERS_SHOWN = 50

# Settings refusals in people's words; anything else falls back to the message.
SETTINGS_ERRORS = {
    "favorite.activity_not_found": N_("One of the chosen coupon activities does not exist."),
    "favorite.activity_other_merchant": N_(
        "One of the chosen coupon activities belongs to another merchant."
    ),
    "favorite.activity_ended": N_("One of the chosen coupon activities has ended."),
    "favorite.gift_is_benefit": N_("The gift cannot also be an exclusive benefit."),
}


def _problem(request: Request, exc: Exception) -> str:
    if isinstance(exc, DomainError) and exc.code in SETTINGS_ERRORS:
        return translate(request, SETTINGS_ERRORS[exc.code])
    return problem_text(request, exc)


def _page(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    staff: MerchantUser,
    mp: int | None,
    *,
    error: str | None = None,
    notice: str | None = None,
    chosen: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    mini_programs = catalog.list_mini_programs(db, staff.tenant)
    selected = next((m for m in mini_programs if m.id == mp), None) if mp else None
    if selected is None and mini_programs:
        selected = mini_programs[0]
    context: dict[str, Any] = {"mini_programs": mini_programs, "selected": selected}
    if selected is not None:
        stats = report.report(
            db, staff.tenant, runtime.analytics, selected.id, limit=FAVORITERS_SHOWN
        )
        current = settings.get_settings(db, staff.tenant, selected.id)
        activities = [
            a
            for a in coupons.list_activities(db, staff.tenant, selected.merchant_id)
            if a.status.value not in service.ENDED
        ]
        if chosen is None:
            chosen = {
                "gift": current.gift.id if current.gift else None,
                "benefits": [b.id for b in current.benefits],
            }
        context.update(
            stats=stats,
            settings=current,
            activities=activities,
            chosen=chosen,
            chart={
                "labels": [d.day.strftime("%m-%d") for d in stats.days],
                "added": [d.added for d in stats.days],
                "removed": [d.removed for d in stats.days],
            },
        )
    return render(
        request,
        "favorites/merchant_favorites.html",
        status_code=status_code,
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        **context,
    )


@router.get("/console/merchant/favorites")
def favorites_page(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    staff: MerchantUser,
    mp: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
    saved: str | None = None,
) -> Response:
    notice = translate(request, N_("Saved.")) if saved else None
    return _page(request, db, runtime, staff, mp, notice=notice)


def _id(text: str) -> int | str | None:
    """'' -> None; digits -> int; anything else is passed on to fail validation."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


@router.post("/console/merchant/favorites/{mini_program_id}/settings")
def save_settings(
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    staff: MerchantUser,
    mini_program_id: PageId,
    gift_activity_id: Annotated[str, Form()] = "",
    benefit_activity_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    benefits = [_id(b) for b in benefit_activity_ids or [] if b.strip()]
    try:
        data = SettingsIn.model_validate(
            {"gift_activity_id": _id(gift_activity_id), "benefit_activity_ids": benefits}
        )
        settings.put_settings(db, staff, mini_program_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        return _page(
            request,
            db,
            runtime,
            staff,
            mini_program_id,
            error=_problem(request, exc),
            chosen={"gift": _id(gift_activity_id), "benefits": benefits},
            status_code=422 if not isinstance(exc, DomainError) else exc.status_code,
        )
    return redirect(f"{PAGE}?mp={mini_program_id}&saved=1")


__all__ = ["app_router", "router"]
