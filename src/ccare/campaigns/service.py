"""Campaigns: who (a segment, or a trigger), what (a message and/or a coupon), when, and
a random holdout that gets nothing, so the results can show what the campaign changed.

draft → scheduled (started, waiting for `start_at`) → running (a trigger campaign, until
`end_at`) → done; cancelled from any of the first three. Choosing and giving happen in the
worker (`rounds.py`); this module holds the rules people act through.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.campaigns import results as results_
from ccare.campaigns.models import Arm, Campaign, CampaignMember, CampaignRound, CampaignStatus
from ccare.campaigns.repository import CampaignRepository
from ccare.campaigns.schemas import (
    CampaignCreate,
    CampaignFinished,
    CampaignOut,
    CampaignResults,
    MemberOut,
    RoundOut,
)
from ccare.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import utcnow
from ccare.coupons import service as coupons
from ccare.merchants import service as merchants
from ccare.messages import service as messages
from ccare.segments import service as segments

S = CampaignStatus
DEFAULT_RUN_DAYS = 30
MAX_RUN_DAYS = 90


def merchant_for(db: Session, actor: Principal, requested: int | None) -> int:
    return merchants.merchant_for(db, actor, requested, code="campaign.merchant_required")


def get(db: Session, tenant: Tenant, campaign_id: int) -> Campaign:
    campaign = CampaignRepository(db, tenant).campaign(campaign_id)
    if campaign is None:
        raise NotFound("no such campaign", code="campaign.not_found")
    return campaign


def list_campaigns(db: Session, tenant: Tenant, merchant_id: int | None = None) -> list[Campaign]:
    return CampaignRepository(db, tenant).campaigns(merchant_id)


def _check_parts(db: Session, actor: Principal, merchant_id: int, data: CampaignCreate) -> None:
    """Every part the campaign names exists, is the merchant's, and can be used."""
    if data.template_id is None and data.activity_id is None:
        raise InvalidInput(
            "a campaign gives a message (template_id), a coupon (activity_id) or both",
            code="campaign.nothing_to_give",
        )
    trigger = data.trigger
    if trigger is None or trigger.kind == "entered_segment":
        if data.segment_id is None:
            raise InvalidInput(
                "segment_id is required unless the trigger is favorited_no_order",
                code="campaign.segment_required",
            )
    elif data.segment_id is not None:
        raise InvalidInput(
            "a favorited_no_order campaign chooses its own members; leave segment_id out",
            code="campaign.segment_not_allowed",
        )
    if trigger is not None and trigger.kind == "favorited_no_order" and trigger.days is None:
        raise InvalidInput(
            "trigger.days is required for favorited_no_order", code="campaign.days_required"
        )
    if trigger is None and data.end_at is not None:
        raise InvalidInput("end_at is for trigger campaigns", code="campaign.end_not_allowed")
    if (
        data.segment_id is not None
        and segments.get(db, actor.tenant, data.segment_id).merchant_id != merchant_id
    ):
        raise NotFound("no such segment", code="segment.not_found")
    if data.template_id is not None:
        template = messages.active_template(db, actor.tenant, data.template_id)
        if template.merchant_id != merchant_id:
            raise NotFound("no such template", code="message.template_not_found")
        messages.render(template, dict(data.variables))
    if data.activity_id is not None:
        activity = coupons.get_activity(db, actor.tenant, data.activity_id)
        if activity.merchant_id != merchant_id:
            raise NotFound("no such coupon activity", code="coupon.activity_not_found")


def _window(data: CampaignCreate, now: datetime) -> tuple[datetime | None, datetime | None]:
    start_at = data.start_at.astimezone(UTC) if data.start_at is not None else None
    if start_at is not None and start_at < now - timedelta(minutes=5):
        raise InvalidInput("start_at is in the past", code="campaign.start_in_past")
    if data.trigger is None:
        return start_at, None
    begins = start_at or now
    end_at = (
        data.end_at.astimezone(UTC)
        if data.end_at is not None
        else begins + timedelta(days=DEFAULT_RUN_DAYS)
    )
    if end_at <= begins:
        raise InvalidInput("end_at must come after the start", code="campaign.bad_window")
    if end_at - begins > timedelta(days=MAX_RUN_DAYS):
        raise InvalidInput(
            f"a trigger campaign runs at most {MAX_RUN_DAYS} days", code="campaign.bad_window"
        )
    return start_at, end_at


def _same_request(campaign: Campaign, data: CampaignCreate) -> bool:
    trigger = data.trigger.model_dump(mode="json") if data.trigger is not None else None
    return (
        campaign.name,
        campaign.segment_id,
        campaign.trigger,
        campaign.template_id,
        campaign.variables,
        campaign.activity_id,
        campaign.holdout_percent,
        campaign.conversion_days,
    ) == (
        data.name,
        data.segment_id,
        trigger,
        data.template_id,
        dict(data.variables),
        data.activity_id,
        data.holdout_percent,
        data.conversion_days,
    )


def create(
    db: Session, actor: Principal, data: CampaignCreate, now: datetime | None = None
) -> tuple[Campaign, bool]:
    """A draft campaign (scheduled or started with `start`); the same out_request_no with
    the same content returns the first one (created = False)."""
    merchants.require_manager(actor)
    now = now or utcnow()
    merchant_id = merchant_for(db, actor, data.merchant_id)
    repo = CampaignRepository(db, actor.tenant)
    earlier = repo.by_request_no(merchant_id, data.out_request_no)
    if earlier is not None:
        if not _same_request(earlier, data):
            raise Conflict(
                "out_request_no was used for another campaign", code="campaign.request_conflict"
            )
        return earlier, False
    _check_parts(db, actor, merchant_id, data)
    start_at, end_at = _window(data, now)
    campaign = Campaign(
        merchant_id=merchant_id,
        name=data.name,
        out_request_no=data.out_request_no,
        segment_id=data.segment_id,
        trigger=data.trigger.model_dump(mode="json") if data.trigger is not None else None,
        template_id=data.template_id,
        variables=dict(data.variables),
        activity_id=data.activity_id,
        holdout_percent=data.holdout_percent,
        seed=secrets.token_hex(16),
        conversion_days=data.conversion_days,
        start_at=start_at,
        end_at=end_at,
        status=S.DRAFT,
    )
    repo.add(campaign)
    if data.start:
        start(db, actor, campaign.id, now)
    return campaign, True


def start(db: Session, actor: Principal, campaign_id: int, now: datetime | None = None) -> Campaign:
    """draft → scheduled: the worker runs its first round at `start_at` (or at once).
    Starting a started campaign again changes nothing."""
    merchants.require_manager(actor)
    now = now or utcnow()
    campaign = get(db, actor.tenant, campaign_id)
    if campaign.status in (S.SCHEDULED, S.RUNNING, S.DONE):
        return campaign
    if campaign.end_at is not None and campaign.end_at <= now:
        raise IllegalTransition("the campaign's end has passed", code="campaign.ended")
    moved = CampaignRepository(db, actor.tenant).move(
        campaign.id, [S.DRAFT], {"status": S.SCHEDULED, "start_at": campaign.start_at or now}
    )
    if not moved:
        raise IllegalTransition(
            f"a {campaign.status.value} campaign cannot start", code="campaign.not_draft"
        )
    db.refresh(campaign)
    return campaign


def cancel(
    db: Session, actor: Principal, campaign_id: int, now: datetime | None = None
) -> Campaign:
    """Stop choosing and giving. Members already chosen keep what they got, and their
    results stay."""
    merchants.require_manager(actor)
    campaign = get(db, actor.tenant, campaign_id)
    if campaign.status == S.CANCELLED:
        return campaign
    moved = CampaignRepository(db, actor.tenant).move(
        campaign.id,
        [S.DRAFT, S.SCHEDULED, S.RUNNING],
        {"status": S.CANCELLED, "finished_at": now or utcnow(), "next_round_at": None},
    )
    if not moved:
        raise IllegalTransition(
            f"a {campaign.status.value} campaign cannot be cancelled", code="campaign.finished"
        )
    db.refresh(campaign)
    emit(
        db,
        CampaignFinished(
            merchant_id=campaign.merchant_id,
            campaign_id=campaign.id,
            status="cancelled",
            treated=campaign.treated,
            held_out=campaign.held_out,
        ),
    )
    return campaign


def rounds(db: Session, tenant: Tenant, campaign_id: int) -> list[CampaignRound]:
    get(db, tenant, campaign_id)
    return CampaignRepository(db, tenant).rounds(campaign_id)


def members(
    db: Session, tenant: Tenant, campaign_id: int, *, arm: Arm | None, after: int, limit: int
) -> list[CampaignMember]:
    get(db, tenant, campaign_id)
    return CampaignRepository(db, tenant).members(campaign_id, arm=arm, after=after, limit=limit)


def results(
    db: Session, tenant: Tenant, analytics: Any, campaign_id: int, now: datetime | None = None
) -> CampaignResults:
    campaign = get(db, tenant, campaign_id)
    rows = CampaignRepository(db, tenant).outcome_rows(campaign.id)
    return results_.compute(analytics, campaign, rows, now or utcnow())


def roi_rows(
    db: Session,
    tenant: Tenant,
    analytics: Any,
    merchant_id: int,
    since: datetime,
    now: datetime | None = None,
) -> list[tuple[Campaign, CampaignResults]]:
    """The merchant's campaigns started since `since`, with their results: the C-CARE
    dashboard's efficiency figures."""
    now = now or utcnow()
    return [
        (c, results(db, tenant, analytics, c.id, now))
        for c in list_campaigns(db, tenant, merchant_id)
        if c.started_at is not None and c.started_at >= since
    ]


def out(campaign: Campaign) -> CampaignOut:
    return CampaignOut.model_validate(campaign, from_attributes=True)


def round_out(row: CampaignRound) -> RoundOut:
    return RoundOut.model_validate(row, from_attributes=True)


def member_out(row: CampaignMember) -> MemberOut:
    return MemberOut.model_validate(row, from_attributes=True)
