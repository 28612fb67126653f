"""The campaigns API: create, start, cancel, and the results against the holdout."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from ccare.campaigns import service
from ccare.campaigns.models import Arm
from ccare.campaigns.schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignResults,
    MemberOut,
    RoundOut,
)
from ccare.web.deps import CurrentStaff, CurrentTenant, DbSession, IdPath, RuntimeDep
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["campaigns"])
CAMPAIGN = "/campaigns/{campaign_id}"


@router.post(
    "/campaigns",
    response_model=CampaignOut,
    status_code=201,
    summary="Create a campaign: a segment or a trigger, a message and/or a coupon, a holdout"
    " (the same out_request_no with the same content returns the same campaign)",
)
def create(
    body: CampaignCreate, db: DbSession, staff: CurrentStaff, response: Response
) -> CampaignOut:
    campaign, created = service.create(db, staff, body)
    if not created:
        response.status_code = 200
    return service.out(campaign)


@router.get("/campaigns", response_model=list[CampaignOut], summary="Your campaigns, newest first")
def list_campaigns(
    db: DbSession,
    tenant: CurrentTenant,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> list[CampaignOut]:
    return [service.out(c) for c in service.list_campaigns(db, tenant, merchant_id)]


@router.get(CAMPAIGN, response_model=CampaignOut, summary="One campaign and its counts")
def get_campaign(campaign_id: IdPath, db: DbSession, tenant: CurrentTenant) -> CampaignOut:
    return service.out(service.get(db, tenant, campaign_id))


@router.post(
    CAMPAIGN + "/start",
    response_model=CampaignOut,
    summary="Start a draft: it runs at its start_at, or at once (again: no change)",
)
def start(campaign_id: IdPath, db: DbSession, staff: CurrentStaff) -> CampaignOut:
    return service.out(service.start(db, staff, campaign_id))


@router.post(
    CAMPAIGN + "/cancel",
    response_model=CampaignOut,
    summary="Stop choosing and giving; what was given stays, and so do the results",
)
def cancel(campaign_id: IdPath, db: DbSession, staff: CurrentStaff) -> CampaignOut:
    return service.out(service.cancel(db, staff, campaign_id))


@router.get(
    CAMPAIGN + "/results",
    response_model=CampaignResults,
    summary="Conversion and GMV of the treatment against the holdout, with the uplift's"
    " 95% confidence interval and the ROI",
)
def results(
    campaign_id: IdPath, db: DbSession, tenant: CurrentTenant, runtime: RuntimeDep
) -> CampaignResults:
    return service.results(db, tenant, runtime.analytics, campaign_id)


@router.get(CAMPAIGN + "/rounds", response_model=list[RoundOut], summary="Its rounds, in order")
def rounds(campaign_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[RoundOut]:
    return [service.round_out(r) for r in service.rounds(db, tenant, campaign_id)]


@router.get(
    CAMPAIGN + "/members",
    response_model=list[MemberOut],
    summary="Chosen consumers with their arm and coupon, by consumer id, a page at a time",
)
def members(
    campaign_id: IdPath,
    db: DbSession,
    tenant: CurrentTenant,
    arm: Arm | None = None,
    after: Annotated[int, Query(ge=0, lt=2**62, description="ids above this one")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MemberOut]:
    rows = service.members(db, tenant, campaign_id, arm=arm, after=after, limit=limit)
    return [service.member_out(m) for m in rows]
