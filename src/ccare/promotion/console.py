"""The merchant's promotion page: the advertising account with a top-up from the sales
balance, a new-plan form, the plans with pause / resume / end, and the placements with
their reserve prices. A plan's ad groups and a group's creatives have pages of their own
(console_plans, console_groups); the operator reviews creatives in console_reviews.
Forms work by HTMX in place and by a plain POST that redirects."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal
from ccare.ledger import service as ledger
from ccare.promotion import service
from ccare.promotion.console_texts import (
    HOURS,
    LABELS,
    PAGE,
    PLANS,
    error_text,
    go,
    is_htmx,
    money,
    status_of,
    text,
)
from ccare.promotion.models import ChargeType, Objective
from ccare.promotion.schemas import PlanCreate
from ccare.promotion.serving_schemas import AdTopUp
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, redirect, run_once
from ccare.web.routing import api_router
from ccare.web.templating import render, translate

router = api_router(tags=["console"])

TOP_UPS = PAGE + "/top-ups"
PLAN_FIELDS = ("name", "objective", "charge_type", "daily_budget", "total_budget", "hours")
TOPPED = N_("Topped up: the money is in your advertising balance.")


def _account(
    db: Session,
    staff: Principal,
    *,
    amount: str = "",
    error: str | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    merchant_id = staff.merchant_id or 0
    return {
        "ad_balance": service.ad_balance(db, staff.tenant, merchant_id),
        "sales_balance": ledger.merchant_balance(db, staff.tenant, merchant_id),
        "amount": amount,
        "error": error,
        "notice": notice,
    }


def _plan_form(values: dict[str, str] | None = None, error: str | None = None) -> dict[str, Any]:
    defaults = dict.fromkeys(PLAN_FIELDS, "") | {
        "objective": Objective.TRANSACTIONS.value,
        "charge_type": ChargeType.CPC.value,
        "hours": "all_week",
    }
    return {
        "values": values or defaults,
        "error": error,
        "objectives": [o.value for o in Objective],
        "charge_types": [c.value for c in ChargeType],
        "hours": HOURS,
    }


def _page(
    request: Request,
    db: Session,
    staff: Principal,
    *,
    status_code: int = 200,
    account: dict[str, Any] | None = None,
    plan_form: dict[str, Any] | None = None,
) -> Response:
    plans = service.list_plans(db, staff.tenant)
    return render(
        request,
        "promotion/merchant_promotion.html",
        status_code=status_code,
        account=account or _account(db, staff),
        plan_form=plan_form or _plan_form(),
        plans=plans,
        group_counts={p.id: len(service.list_groups(db, staff.tenant, p.id)) for p in plans},
        placements=service.placements(),
        labels=LABELS,
        can_manage=staff.can_manage(),
    )


@router.get(PAGE)
def promotion_page(
    request: Request, db: DbSession, staff: MerchantUser, topped: str = ""
) -> Response:
    notice = translate(request, TOPPED) if topped else None
    return _page(request, db, staff, account=_account(db, staff, notice=notice))


@router.post(TOP_UPS)
async def top_up(request: Request, db: DbSession, staff: MerchantUser) -> Response:
    """Prepay advertising from the sales balance, once per form (its hidden key)."""
    posted = await request.form()
    amount = text(posted, "amount")
    try:
        body = AdTopUp.model_validate(
            {"amount_fen": money(posted, "amount"), "source": "settlement"}
        )

        def produce() -> dict[str, int]:
            entry_id, merchant_id = service.top_up(db, staff, None, body.amount_fen, body.source)
            return {"entry_id": entry_id, "merchant_id": merchant_id}

        run_once(
            db,
            staff,
            text(posted, "out_request_no"),
            "promotion.top_up",
            body.model_dump(),
            produce,
        )
    except (DomainError, ValidationError) as exc:
        db.rollback()
        account = _account(db, staff, amount=amount, error=error_text(request, exc))
        if not is_htmx(request):
            return _page(request, db, staff, status_code=status_of(exc), account=account)
        return render(
            request,
            "promotion/_account.html",
            status_code=status_of(exc),
            account=account,
            can_manage=staff.can_manage(),
        )
    if not is_htmx(request):
        return redirect(f"{PAGE}?topped=1")
    return render(
        request,
        "promotion/_account.html",
        account=_account(db, staff, notice=translate(request, TOPPED)),
        can_manage=staff.can_manage(),
    )


@router.post(PLANS)
async def create_plan(request: Request, db: DbSession, staff: MerchantUser) -> Response:
    """The hidden out_request_no makes a resubmitted form the same plan."""
    posted = await request.form()
    values = {k: text(posted, k) for k in PLAN_FIELDS}
    try:
        data = PlanCreate.model_validate(
            {
                "out_request_no": text(posted, "out_request_no"),
                "name": values["name"],
                "objective": values["objective"],
                "charge_type": values["charge_type"],
                "daily_budget_fen": money(posted, "daily_budget"),
                "total_budget_fen": money(posted, "total_budget"),
                "hours": HOURS.get(values["hours"], ("", values["hours"]))[1],
            }
        )
        plan, _created = service.create_plan(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        form = _plan_form(values, error_text(request, exc))
        if not is_htmx(request):
            return _page(request, db, staff, status_code=status_of(exc), plan_form=form)
        return render(
            request,
            "promotion/_plan_form.html",
            status_code=status_of(exc),
            plan_form=form,
            labels=LABELS,
        )
    return go(request, f"{PLANS}/{plan.id}?created=1")


from ccare.promotion import console_groups, console_plans, console_reviews  # noqa: E402

router.routes.extend(console_plans.router.routes)
router.routes.extend(console_groups.router.routes)
router.routes.extend(console_reviews.router.routes)

from ccare.promotion import report_console  # noqa: E402

router.routes.extend(report_console.router.routes)
from ccare.promotion.app_slots import app_router  # noqa: E402,F401  (the consumer app ad slots)
