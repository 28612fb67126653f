"""The promotion platform API: placements, plans, ad groups, creatives and their review."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from ccare.promotion import service
from ccare.promotion.models import ReviewStatus
from ccare.promotion.schemas import (
    CreativeCreate,
    CreativeOut,
    GroupCreate,
    GroupOut,
    GroupUpdate,
    PlacementOut,
    PlanCreate,
    PlanOut,
    PlanUpdate,
    ReviewRequest,
)
from ccare.web.deps import CurrentStaff, CurrentTenant, DbSession, IdPath
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["promotion"])
PLAN = "/ad-plans/{plan_id}"
GROUP = "/ad-groups/{group_id}"
CREATIVE = "/ad-creatives/{creative_id}"


@router.get(
    "/ad-placements",
    response_model=list[PlacementOut],
    summary="Where ads run: scenes and slots with their reserve prices",
)
def placements(staff: CurrentStaff) -> list[PlacementOut]:
    return [
        PlacementOut.model_validate({**p.__dict__, "auctioned": p.auctioned})
        for p in service.placements()
    ]


@router.post(
    "/ad-plans",
    response_model=PlanOut,
    status_code=201,
    summary="Create a plan: objective, charge type, budgets, hours of the week (the same"
    " out_request_no with the same content returns the same plan)",
)
def create_plan(
    body: PlanCreate, db: DbSession, staff: CurrentStaff, response: Response
) -> PlanOut:
    plan, created = service.create_plan(db, staff, body)
    if not created:
        response.status_code = 200
    return PlanOut.model_validate(plan)


@router.get("/ad-plans", response_model=list[PlanOut], summary="Your plans, newest first")
def list_plans(
    db: DbSession,
    tenant: CurrentTenant,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> list[PlanOut]:
    return [PlanOut.model_validate(p) for p in service.list_plans(db, tenant, merchant_id)]


@router.get(PLAN, response_model=PlanOut, summary="One plan")
def get_plan(plan_id: IdPath, db: DbSession, tenant: CurrentTenant) -> PlanOut:
    return PlanOut.model_validate(service.get_plan(db, tenant, plan_id))


@router.patch(PLAN, response_model=PlanOut, summary="Change budgets, hours, name or status")
def update_plan(plan_id: IdPath, body: PlanUpdate, db: DbSession, staff: CurrentStaff) -> PlanOut:
    return PlanOut.model_validate(service.update_plan(db, staff, plan_id, body))


@router.get(PLAN + "/groups", response_model=list[GroupOut], summary="A plan's ad groups")
def list_groups(plan_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[GroupOut]:
    return [GroupOut.model_validate(g) for g in service.list_groups(db, tenant, plan_id)]


@router.post(
    "/ad-groups",
    response_model=GroupOut,
    status_code=201,
    summary="Create an ad group: bidding and targeting (placements, segments, cities, member"
    " levels, search words)",
)
def create_group(body: GroupCreate, db: DbSession, staff: CurrentStaff) -> GroupOut:
    return GroupOut.model_validate(service.create_group(db, staff, body))


@router.get(GROUP, response_model=GroupOut, summary="One ad group")
def get_group(group_id: IdPath, db: DbSession, tenant: CurrentTenant) -> GroupOut:
    return GroupOut.model_validate(service.get_group(db, tenant, group_id))


@router.patch(GROUP, response_model=GroupOut, summary="Change the bid, targeting or status")
def update_group(
    group_id: IdPath, body: GroupUpdate, db: DbSession, staff: CurrentStaff
) -> GroupOut:
    return GroupOut.model_validate(service.update_group(db, staff, group_id, body))


@router.post(
    "/ad-creatives",
    response_model=CreativeOut,
    status_code=201,
    summary="Create a creative landing on one of your mini-program pages (reviewed before it"
    " serves)",
)
def create_creative(body: CreativeCreate, db: DbSession, staff: CurrentStaff) -> CreativeOut:
    return CreativeOut.model_validate(service.create_creative(db, staff, body))


@router.get(
    "/ad-creatives",
    response_model=list[CreativeOut],
    summary="Creatives, by ad group or review status (the operator's review queue)",
)
def list_creatives(
    db: DbSession,
    tenant: CurrentTenant,
    group_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
    review_status: ReviewStatus | None = None,
) -> list[CreativeOut]:
    rows = service.list_creatives(db, tenant, group_id=group_id, review_status=review_status)
    return [CreativeOut.model_validate(c) for c in rows]


@router.get(CREATIVE, response_model=CreativeOut, summary="One creative and its review")
def get_creative(creative_id: IdPath, db: DbSession, tenant: CurrentTenant) -> CreativeOut:
    return CreativeOut.model_validate(service.get_creative(db, tenant, creative_id))


@router.post(
    CREATIVE + "/review",
    response_model=CreativeOut,
    summary="The operator approves or rejects a creative (a rejection needs a note)",
)
def review(
    creative_id: IdPath, body: ReviewRequest, db: DbSession, staff: CurrentStaff
) -> CreativeOut:
    return CreativeOut.model_validate(service.review_creative(db, staff, creative_id, body))
