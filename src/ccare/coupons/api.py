from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import Field

from ccare.core.schemas import StrictInput
from ccare.coupons import redemption, service
from ccare.coupons.models import ActivityStatus
from ccare.coupons.schemas import (
    ActivityChangeRequest,
    ActivityCreate,
    ActivityOut,
    AppendQuantity,
    ChangeOut,
    CheckoutPreview,
    ClaimRequest,
    CouponOut,
    QuoteOut,
    SendRequest,
    StatusChange,
)
from ccare.web.deps import CurrentConsumer, CurrentStaff, CurrentTenant, DbSession, IdPath
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["coupons"])
ACTIVITY = "/coupon-activities/{activity_id}"


class CodeDeposit(StrictInput):
    codes: list[Annotated[str, Field(min_length=4, max_length=40, pattern=r"^[0-9A-Za-z]+$")]] = (
        Field(min_length=1, max_length=10_000)
    )


@router.post(
    "/coupon-activities",
    response_model=ActivityOut,
    status_code=201,
    summary="Create a coupon activity (the same out_biz_no again returns the same activity)",
)
def create_activity(body: ActivityCreate, db: DbSession, staff: CurrentStaff) -> ActivityOut:
    activity = service.create_activity(db, staff, body)
    return service.activity_out(db, staff.tenant, activity)


@router.get("/coupon-activities", response_model=list[ActivityOut], summary="Your activities")
def list_activities(
    db: DbSession,
    tenant: CurrentTenant,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> list[ActivityOut]:
    return service.list_activities(db, tenant, merchant_id)


@router.get(ACTIVITY, response_model=ActivityOut, summary="One activity, with its stock")
def get_activity(activity_id: IdPath, db: DbSession, tenant: CurrentTenant) -> ActivityOut:
    return service.activity_out(db, tenant, service.get_activity(db, tenant, activity_id))


@router.get(ACTIVITY + "/history", response_model=list[ChangeOut], summary="Audit history")
def history(activity_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[ChangeOut]:
    return [ChangeOut.model_validate(c) for c in service.history(db, tenant, activity_id)]


@router.patch(ACTIVITY, response_model=ActivityOut, summary="Rename, extend, change limits")
def modify(
    activity_id: IdPath, body: ActivityChangeRequest, db: DbSession, staff: CurrentStaff
) -> ActivityOut:
    activity = service.modify(db, staff, activity_id, body)
    return service.activity_out(db, staff.tenant, activity)


@router.post(
    ACTIVITY + "/status",
    response_model=ActivityOut,
    summary="Activate, pause, resume or stop (draft → active ⇄ paused → stopped)",
)
def set_status(
    activity_id: IdPath, body: StatusChange, db: DbSession, staff: CurrentStaff
) -> ActivityOut:
    activity = service.set_status(db, staff, activity_id, ActivityStatus(body.status))
    return service.activity_out(db, staff.tenant, activity)


@router.post(
    ACTIVITY + "/append",
    response_model=ActivityOut,
    summary="Add stock (idempotent per out_request_no)",
)
def append(
    activity_id: IdPath, body: AppendQuantity, db: DbSession, staff: CurrentStaff
) -> ActivityOut:
    activity = service.append(db, staff, activity_id, body)
    return service.activity_out(db, staff.tenant, activity)


@router.post(
    ACTIVITY + "/codes",
    response_model=ActivityOut,
    summary="Deposit the merchant's own codes (code mode merchant_upload)",
)
def deposit_codes(
    activity_id: IdPath, body: CodeDeposit, db: DbSession, staff: CurrentStaff
) -> ActivityOut:
    activity = service.deposit_codes(db, staff, activity_id, body.codes)
    return service.activity_out(db, staff.tenant, activity)


@router.post(
    ACTIVITY + "/send",
    response_model=CouponOut,
    summary="Give a coupon to a user (idempotent per claim_key)",
)
def send(activity_id: IdPath, body: SendRequest, db: DbSession, staff: CurrentStaff) -> CouponOut:
    request = ClaimRequest(channel=body.channel, claim_key=body.claim_key, device_id=body.device_id)
    coupon = service.send(db, staff, activity_id, body.consumer_id, request)
    return CouponOut.model_validate(coupon)


@router.get(
    ACTIVITY + "/coupons", response_model=list[CouponOut], summary="Coupons issued (newest first)"
)
def activity_coupons(activity_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[CouponOut]:
    coupons = service.activity_coupons(db, tenant, activity_id)
    return [CouponOut.model_validate(c) for c in coupons]


@router.post(
    ACTIVITY + "/claim",
    response_model=CouponOut,
    summary="Claim a coupon as a consumer, on a channel (idempotent per claim_key)",
)
def claim(
    activity_id: IdPath, body: ClaimRequest, db: DbSession, consumer: CurrentConsumer
) -> CouponOut:
    return CouponOut.model_validate(service.claim(db, consumer, activity_id, body))


@router.post(
    "/me/coupons/preview",
    response_model=QuoteOut,
    summary="What your coupons would take off an order, or exactly why each would not",
)
def preview(body: CheckoutPreview, db: DbSession, consumer: CurrentConsumer) -> QuoteOut:
    return redemption.preview(db, consumer.id, body)


@router.get("/me/coupons", response_model=list[CouponOut], summary="Your coupons (consumers)")
def my_coupons(db: DbSession, consumer: CurrentConsumer) -> list[CouponOut]:
    return [CouponOut.model_validate(c) for c in service.my_coupons(db, consumer)]
