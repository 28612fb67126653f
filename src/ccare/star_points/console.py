"""The merchant's 繁星 points page: balance, the rule table, points earned per day by rule,
the ledger, grants with their progress, and a redeem form (HTMX, plain POST without it)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal
from ccare.promotion import service as promotion
from ccare.star_points import report, rules, service
from ccare.star_points.schemas import RedemptionCreate
from ccare.web.deps import DbSession, runtime_of
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, redirect
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, translate

router = api_router(tags=["console"])

PAGE = "/console/merchant/star-points"
REDEEM = PAGE + "/redemptions"
CHART_DAYS = 30
RECENT_ENTRIES = 20

CHANNEL_LABELS = {
    "offline_qr": N_("Offline QR code"),
    "message": N_("Message"),
    "fan_group": N_("Fan group"),
    "live": N_("Live room"),
    "share": N_("Share"),
    "favorites": N_("Favorites"),
}
ENTRY_LABELS = {r.key: r.name for r in rules.RULES} | {rules.REDEEM: N_("Redeemed")}
GRANT_STATUS = {"active": N_("Serving"), "exhausted": N_("Used up")}
ERRORS = {
    "star_points.insufficient": N_("Not enough points for this redemption."),
    "star_points.invalid_points": N_("Redeem between 1 and 1,000,000 points."),
    "star_points.group_ended": N_("This ad group or its plan has ended."),
    "star_points.request_conflict": N_("This form was already submitted with other values."),
    "promotion.group_not_found": N_("Choose one of your ad groups."),
}


def _error_text(request: Request, exc: Exception) -> str:
    if isinstance(exc, DomainError) and exc.code in ERRORS:
        return translate(request, ERRORS[exc.code])
    return problem_text(request, exc)


def _ad_groups(db: Session, staff: Principal) -> list[dict[str, Any]]:
    """Groups free impressions can go to: not ended, in a plan that has not ended."""
    out = []
    for plan in promotion.list_plans(db, staff.tenant):
        if str(plan.status) == service.ENDED:
            continue
        for group in promotion.list_groups(db, staff.tenant, plan.id):
            if str(group.status) != service.ENDED:
                out.append({"id": group.id, "name": group.name, "plan": plan.name})
    return out


def _group_names(db: Session, staff: Principal) -> dict[int, str]:
    return {
        g.id: f"{p.name} / {g.name}"
        for p in promotion.list_plans(db, staff.tenant)
        for g in promotion.list_groups(db, staff.tenant, p.id)
    }


def _chart(request: Request, staff: Principal) -> tuple[list[report.DayPoints], dict[str, Any]]:
    days = report.daily_earned(
        runtime_of(request).analytics, staff.merchant_id or 0, days=CHART_DAYS
    )
    chart = {
        "labels": [d.day.strftime("%m-%d") for d in days],
        "datasets": [
            {
                "label": translate(request, r.name),
                "data": [d.by_rule[r.key] for d in days],
                "color": r.color,
            }
            for r in rules.RULES
        ],
    }
    return days, chart


def _form(
    db: Session,
    staff: Principal,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    return {
        "groups": _ad_groups(db, staff),
        "values": values or {"ad_group_id": "", "points": ""},
        "error": error,
        "notice": notice,
    }


def _context(db: Session, staff: Principal) -> dict[str, Any]:
    return {
        "balance": service.balance(db, staff, None),
        "grants": [service.grant_out(g) for g in service.list_grants(db, staff, None)],
        "group_names": _group_names(db, staff),
        "grant_status": GRANT_STATUS,
        "can_manage": staff.can_manage(),
    }


def _page(
    request: Request, db: Session, staff: Principal, *, status_code: int = 200, **form: Any
) -> Response:
    days, chart = _chart(request, staff)
    return render(
        request,
        "star_points/merchant_star_points.html",
        status_code=status_code,
        rules=rules.RULES,
        pv_per_uv=rules.PV_PER_UV,
        repeat_window_days=rules.REPEAT_WINDOW_DAYS,
        own_channels=[CHANNEL_LABELS[c] for c in sorted(rules.OWN_CHANNELS)],
        today=service.today_counts(db, staff),
        days=days,
        chart=chart,
        entries=service.entries(db, staff, None, limit=RECENT_ENTRIES),
        entry_labels=ENTRY_LABELS,
        form=_form(db, staff, **form),
        **_context(db, staff),
    )


@router.get(PAGE)
def star_points_page(
    request: Request, db: DbSession, staff: MerchantUser, redeemed: int | None = None
) -> Response:
    notice = None
    if redeemed is not None:
        notice = translate(request, N_("Redeemed: the free impressions are now serving."))
    return _page(request, db, staff, notice=notice)


@router.post(REDEEM)
async def redeem(request: Request, db: DbSession, staff: MerchantUser) -> Response:
    posted = await request.form()
    values = {k: str(posted.get(k, "")).strip() for k in ("ad_group_id", "points")}
    htmx = request.headers.get("hx-request") == "true"
    try:
        data = RedemptionCreate.model_validate(
            {
                "ad_group_id": values["ad_group_id"] or None,
                "points": values["points"] or None,
                "out_request_no": str(posted.get("out_request_no", "")),
            }
        )
        grant, _created = service.redeem(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        error = _error_text(request, exc)
        if not htmx:
            return _page(request, db, staff, status_code=status, values=values, error=error)
        return render(
            request,
            "star_points/redeem_result.html",
            status_code=status,
            form=_form(db, staff, values=values, error=error),
            oob=False,
            **_context(db, staff),
        )
    if not htmx:
        return redirect(f"{PAGE}?redeemed={grant.id}")
    notice = translate(request, N_("Redeemed: the free impressions are now serving."))
    return render(
        request,
        "star_points/redeem_result.html",
        form=_form(db, staff, notice=notice),
        oob=True,
        **_context(db, staff),
    )
