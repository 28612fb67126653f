"""The merchant's campaign pages: the list with a new-campaign form, and a campaign's
detail with its rounds and its results against the holdout."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.campaigns import service
from ccare.campaigns.page_texts import LABELS, TARGETS
from ccare.campaigns.schemas import CampaignCreate, CampaignResults
from ccare.core.errors import DomainError
from ccare.coupons import service as coupons
from ccare.messages import service as messages
from ccare.segments import service as segments
from ccare.web.deps import DbSession, RuntimeDep
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, translate

router = api_router(tags=["console"])

CAMPAIGNS = "/console/merchant/campaigns"
LOCAL = ZoneInfo("Asia/Shanghai")  # the form's times are the merchant's wall clock
FORM_DEFAULTS = {
    "name": "",
    "target": "once",
    "segment_id": "",
    "days": "7",
    "template_id": "",
    "variables": "",
    "activity_id": "",
    "holdout_percent": "10",
    "conversion_days": "7",
    "start_at": "",
    "end_at": "",
    "start": "1",
}


def _local_time(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=LOCAL)
    except ValueError:
        return text  # fails validation with the field's name


def _variables(text: str) -> Any:
    """`name=value` per line."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def _blank_none(text: str) -> str | None:
    return text.strip() or None


def _create_request(form: dict[str, str], out_request_no: str) -> CampaignCreate:
    target = form["target"]
    trigger = None
    if target != "once":
        trigger = {"kind": target}
        if target == "favorited_no_order":
            trigger["days"] = form["days"]
    return CampaignCreate.model_validate(
        {
            "name": form["name"],
            "out_request_no": out_request_no,
            "segment_id": None
            if target == "favorited_no_order"
            else _blank_none(form["segment_id"]),
            "trigger": trigger,
            "template_id": _blank_none(form["template_id"]),
            "variables": _variables(form["variables"]),
            "activity_id": _blank_none(form["activity_id"]),
            "holdout_percent": form["holdout_percent"],
            "conversion_days": form["conversion_days"],
            "start_at": _local_time(form["start_at"]),
            "end_at": _local_time(form["end_at"]) if target != "once" else None,
            "start": bool(form["start"]),
        }
    )


def _list_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "campaigns/merchant_campaigns.html",
        status_code=status_code,
        campaigns=[service.out(c) for c in service.list_campaigns(db, staff.tenant)],
        labels=LABELS,
        targets=TARGETS,
        segments=segments.list_segments(db, staff.tenant),
        templates=[t for t in messages.list_templates(db, staff.tenant) if t.status == "active"],
        activities=coupons.list_activities(db, staff.tenant),
        can_manage=staff.can_manage(),
        form=form or FORM_DEFAULTS,
        error=error,
    )


@router.get(CAMPAIGNS)
def campaigns_page(request: Request, db: DbSession, staff: MerchantUser) -> Response:
    return _list_page(request, db, staff)


@router.post(CAMPAIGNS)
async def create_campaign(request: Request, db: DbSession, staff: MerchantUser) -> Response:
    posted = await request.form()
    form = {k: str(posted.get(k, "")) for k in FORM_DEFAULTS}
    try:
        data = _create_request(form, str(posted.get("out_request_no", "")))
        campaign, _created = service.create(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _list_page(
            request, db, staff, form=form, error=problem_text(request, exc), status_code=status
        )
    return redirect(f"{CAMPAIGNS}/{campaign.id}?saved=1")


def _interval_chart(results: CampaignResults) -> dict[str, Any] | None:
    """Where the uplift and its interval sit on an axis that always shows zero, in
    percent of the axis width (drawn as SVG by the template)."""
    if results.uplift is None or results.uplift_low is None or results.uplift_high is None:
        return None
    low = min(results.uplift_low, 0.0)
    high = max(results.uplift_high, 0.0)
    span = (high - low) or 1.0
    pad = span * 0.1

    def at(value: float) -> float:
        return round((value - low + pad) / (span + 2 * pad) * 100, 2)

    return {
        "zero": at(0.0),
        "low": at(results.uplift_low),
        "high": at(results.uplift_high),
        "point": at(results.uplift),
    }


@router.get(CAMPAIGNS + "/{campaign_id}")
def campaign_page(
    request: Request,
    campaign_id: PageId,
    db: DbSession,
    staff: MerchantUser,
    runtime: RuntimeDep,
    saved: str | None = None,
) -> Response:
    try:
        campaign = service.get(db, staff.tenant, campaign_id)
        results = service.results(db, staff.tenant, runtime.analytics, campaign_id)
    except DomainError as exc:
        return error_page(request, exc)
    best = max(results.treatment.conversion_rate, results.holdout.conversion_rate) or 1.0
    return render(
        request,
        "campaigns/merchant_campaign.html",
        campaign=service.out(campaign),
        rounds=[service.round_out(r) for r in service.rounds(db, staff.tenant, campaign_id)],
        results=results,
        interval=_interval_chart(results),
        bar_scale=100 / best,
        labels=LABELS,
        can_manage=staff.can_manage(),
        notice=translate(request, N_("Saved.")) if saved else None,
    )


@router.post(CAMPAIGNS + "/{campaign_id}/start")
def start_campaign(
    request: Request, campaign_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    try:
        service.start(db, staff, campaign_id)
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(f"{CAMPAIGNS}/{campaign_id}")


@router.post(CAMPAIGNS + "/{campaign_id}/cancel")
def cancel_campaign(
    request: Request, campaign_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    try:
        service.cancel(db, staff, campaign_id)
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(f"{CAMPAIGNS}/{campaign_id}")
