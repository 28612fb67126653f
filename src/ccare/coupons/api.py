from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from pydantic import Field, ValidationError

from ccare.core.errors import InvalidInput, NotFound
from ccare.core.schemas import StrictInput
from ccare.core.time import as_utc, beijing_text, parse_beijing_text
from ccare.coupons import claims, redemption, risk, service
from ccare.coupons.gate import gate_for
from ccare.coupons.models import ActivityStatus, Channel
from ccare.coupons.qr import claim_link, claim_qr_svg
from ccare.coupons.schemas import (
    ActivityChangeRequest,
    ActivityCreate,
    ActivityOut,
    ActivityPublic,
    ActivityRefBiz,
    AppendBiz,
    AppendQuantity,
    BlacklistIn,
    BlacklistOut,
    ChangeOut,
    CheckoutPreview,
    ClaimRequest,
    CodeDepositBiz,
    CouponOut,
    CreateBiz,
    ModifyBiz,
    QuoteOut,
    RefundUseBiz,
    RiskReport,
    SendBiz,
    SendRequest,
    SettingsIn,
    SettingsOut,
    StatusChange,
    StopBiz,
    UnuseRequest,
    UseBiz,
    UseRequest,
    UserVoucherBiz,
)
from ccare.orders.schemas import fen_to_yuan
from ccare.web.deps import (
    CurrentConsumer,
    CurrentOperator,
    CurrentStaff,
    CurrentTenant,
    DbSession,
    IdPath,
    Limit,
    RuntimeDep,
    client_ip,
)
from ccare.web.gateway import GatewayContext, gateway_method
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
def send(
    activity_id: IdPath, body: SendRequest, db: DbSession, runtime: RuntimeDep, staff: CurrentStaff
) -> CouponOut:
    request = ClaimRequest(channel=body.channel, claim_key=body.claim_key, device_id=body.device_id)
    gate = gate_for(runtime.settings.effective_redis_url)
    coupon = claims.send(db, staff, activity_id, body.consumer_id, request, gate=gate)
    return CouponOut.model_validate(coupon)


@router.get(
    ACTIVITY + "/coupons", response_model=list[CouponOut], summary="Coupons issued (newest first)"
)
def activity_coupons(activity_id: IdPath, db: DbSession, tenant: CurrentTenant) -> list[CouponOut]:
    coupons = claims.activity_coupons(db, tenant, activity_id)
    return [CouponOut.model_validate(c) for c in coupons]


@router.post(
    ACTIVITY + "/claim",
    response_model=CouponOut,
    summary="Claim a coupon as a consumer, on a channel (idempotent per claim_key)",
)
def claim(
    activity_id: IdPath,
    body: ClaimRequest,
    request: Request,
    db: DbSession,
    runtime: RuntimeDep,
    consumer: CurrentConsumer,
) -> CouponOut:
    ip = client_ip(request)
    gate = gate_for(runtime.settings.effective_redis_url)
    return CouponOut.model_validate(claims.claim(db, consumer, activity_id, body, ip=ip, gate=gate))


@router.post(
    ACTIVITY + "/use",
    response_model=CouponOut,
    summary="Report a coupon used at your own till (idempotent per out_biz_no)",
)
def use(activity_id: IdPath, body: UseRequest, db: DbSession, staff: CurrentStaff) -> CouponOut:
    activity = service.get_activity(db, staff.tenant, activity_id)
    return CouponOut.model_validate(redemption.use_code(db, staff, activity, body))


@router.post(
    ACTIVITY + "/unuse",
    response_model=CouponOut,
    summary="Undo a reported use (the purchase was refunded; idempotent per out_biz_no)",
)
def unuse(activity_id: IdPath, body: UnuseRequest, db: DbSession, staff: CurrentStaff) -> CouponOut:
    activity = service.get_activity(db, staff.tenant, activity_id)
    return CouponOut.model_validate(redemption.unuse_code(db, staff, activity, body))


@router.get(
    "/coupon-venue",
    response_model=list[ActivityPublic],
    summary="The coupon venue: activities open for claims now (public)",
)
def coupon_venue(db: DbSession, limit: Limit = 50) -> list[ActivityPublic]:
    return [ActivityPublic.model_validate(a) for a in service.venue(db, limit=limit)]


@router.get(
    "/coupon-passphrases/{passphrase}",
    response_model=ActivityPublic,
    summary="The activity a searched passphrase (口令) offers (public); claim it with channel "
    "search_passphrase",
)
def passphrase(
    passphrase: Annotated[str, Path(min_length=2, max_length=20)], db: DbSession
) -> ActivityPublic:
    return ActivityPublic.model_validate(service.by_passphrase(db, passphrase))


@router.get(
    ACTIVITY + "/risk",
    response_model=RiskReport,
    summary="The anti-cheating filter on this activity: decisions, blocked claims, budget kept",
)
def risk_report(activity_id: IdPath, db: DbSession, tenant: CurrentTenant) -> RiskReport:
    return risk.report(db, tenant, service.get_activity(db, tenant, activity_id))


@router.get("/coupon-settings", response_model=SettingsOut, summary="Your coupon settings")
def get_settings(
    db: DbSession,
    staff: CurrentStaff,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> SettingsOut:
    merchant = service.merchant_for(staff, merchant_id)
    return SettingsOut.model_validate(risk.strictness(db, staff.tenant, merchant))


@router.put(
    "/coupon-settings",
    response_model=SettingsOut,
    summary="Set the anti-cheating filter's strictness: off, lenient, standard or strict",
)
def put_settings(body: SettingsIn, db: DbSession, staff: CurrentStaff) -> SettingsOut:
    settings = risk.set_strictness(db, staff, body.merchant_id, body.strictness)
    return SettingsOut.model_validate(settings)


@router.get(
    "/coupon-blacklist", response_model=list[BlacklistOut], summary="The risk list (operators)"
)
def list_blacklist(db: DbSession, operator: CurrentOperator) -> list[BlacklistOut]:
    return [BlacklistOut.model_validate(e) for e in risk.blacklist(db, operator)]


@router.post(
    "/coupon-blacklist",
    response_model=BlacklistOut,
    status_code=201,
    summary="Put a device, account or IP on the risk list (operators; idempotent)",
)
def add_blacklist(body: BlacklistIn, db: DbSession, operator: CurrentOperator) -> BlacklistOut:
    return BlacklistOut.model_validate(risk.add_to_blacklist(db, operator, body))


@router.post(
    "/me/coupons/preview",
    response_model=QuoteOut,
    summary="What your coupons would take off an order, or exactly why each would not",
)
def preview(body: CheckoutPreview, db: DbSession, consumer: CurrentConsumer) -> QuoteOut:
    return redemption.preview(db, consumer.id, body)


@router.get("/me/coupons", response_model=list[CouponOut], summary="Your coupons (consumers)")
def my_coupons(db: DbSession, consumer: CurrentConsumer) -> list[CouponOut]:
    return [CouponOut.model_validate(c) for c in claims.my_coupons(db, consumer)]


# --- the v1 gateway: alipay.marketing.activity.ordervoucher.* --------------------------------

GATEWAY_STATUS = {
    ActivityStatus.DRAFT: "DRAFT",
    ActivityStatus.ACTIVE: "ONGOING",
    ActivityStatus.PAUSED: "PAUSE",
    ActivityStatus.STOPPED: "STOPPED",
    ActivityStatus.EXPIRED: "FINISHED",
}
VOUCHER_TYPE = {"fixed": "FIX_VOUCHER", "discount": "DISCOUNT_VOUCHER"}


def _when(value: datetime | None) -> str | None:
    return beijing_text(as_utc(value)) if value is not None else None


def _consumer(ctx: GatewayContext, user_id: str) -> int:
    from ccare.consumers import service as consumers

    consumer_id = consumers.consumer_of_buyer(ctx.db, user_id)
    if consumer_id is None:
        raise InvalidInput("no such user_id", code="coupon.user_not_found")
    return consumer_id


@gateway_method("alipay.marketing.activity.ordervoucher.create", scope="coupons", biz=CreateBiz)
def gateway_create(ctx: GatewayContext, biz: CreateBiz) -> dict[str, Any]:
    try:
        data = biz.to_input()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(str(first["msg"]), code="coupon.invalid_rule") from None
    except ValueError as exc:
        raise InvalidInput(str(exc), code="coupon.invalid_rule") from None
    return {"activity_id": str(service.create_activity(ctx.db, ctx.principal, data).id)}


@gateway_method("alipay.marketing.activity.ordervoucher.query", scope="coupons", biz=ActivityRefBiz)
def gateway_query(ctx: GatewayContext, biz: ActivityRefBiz) -> dict[str, Any]:
    tenant = ctx.principal.tenant
    out = service.activity_out(
        db=ctx.db,
        tenant=tenant,
        activity=service.get_activity(ctx.db, tenant, int(biz.activity_id)),
    )
    return {
        "activity_id": str(out.id),
        "activity_name": out.name,
        "activity_status": GATEWAY_STATUS[out.status],
        "voucher_type": VOUCHER_TYPE.get(out.kind.value, out.kind.value.upper()),
        "publish_start_time": _when(out.claim_begin),
        "publish_end_time": _when(out.claim_end),
        "voucher_inventory_info": {
            "voucher_quantity": out.quantity,
            "issued_quantity": out.issued,
            "remaining_quantity": out.remaining,
        },
    }


@gateway_method("alipay.marketing.activity.ordervoucher.stop", scope="coupons", biz=StopBiz)
def gateway_stop(ctx: GatewayContext, biz: StopBiz) -> dict[str, Any]:
    service.set_status(ctx.db, ctx.principal, int(biz.activity_id), ActivityStatus.STOPPED)
    return {}


@gateway_method("alipay.marketing.activity.ordervoucher.append", scope="coupons", biz=AppendBiz)
def gateway_append(ctx: GatewayContext, biz: AppendBiz) -> dict[str, Any]:
    activity = service.get_activity(ctx.db, ctx.principal.tenant, int(biz.activity_id))
    if biz.voucher_quantity == activity.quantity:
        return {}  # already there: the same request again
    if biz.voucher_quantity < activity.quantity:
        raise InvalidInput(
            "voucher_quantity is the total to reach; it can only grow",
            code="coupon.quantity_not_increased",
            quantity=activity.quantity,
        )
    add = AppendQuantity(
        add=biz.voucher_quantity - activity.quantity, out_request_no=biz.out_biz_no
    )
    service.append(ctx.db, ctx.principal, activity.id, add)
    return {}


@gateway_method(
    "alipay.marketing.activity.ordervoucher.codedeposit", scope="coupons", biz=CodeDepositBiz
)
def gateway_code_deposit(ctx: GatewayContext, biz: CodeDepositBiz) -> dict[str, Any]:
    service.deposit_codes(ctx.db, ctx.principal, int(biz.activity_id), biz.voucher_codes)
    return {"success_count": len(biz.voucher_codes), "fail_count": 0}


@gateway_method("alipay.marketing.activity.ordervoucher.send", scope="coupons", biz=SendBiz)
def gateway_send(ctx: GatewayContext, biz: SendBiz) -> dict[str, Any]:
    request = ClaimRequest(channel=Channel.API, claim_key=biz.out_biz_no)
    coupon = claims.send(
        ctx.db, ctx.principal, int(biz.activity_id), _consumer(ctx, biz.user_id), request
    )
    return {"voucher_code": coupon.code}


@gateway_method("alipay.marketing.activity.user.queryvoucher", scope="coupons", biz=UserVoucherBiz)
def gateway_user_voucher(ctx: GatewayContext, biz: UserVoucherBiz) -> dict[str, Any]:
    from ccare.consumers.service import buyer_id

    consumer_id = _consumer(ctx, biz.user_id) if biz.user_id else None
    activity = service.get_activity(ctx.db, ctx.principal.tenant, int(biz.activity_id))
    coupons = redemption.find_coupons(
        ctx.db, ctx.principal.tenant, activity.id, code=biz.voucher_code, consumer_id=consumer_id
    )
    if not coupons:
        raise NotFound("no such voucher", code="coupon.not_found")
    return {
        "activity_id": str(activity.id),
        "vouchers": [
            {
                "voucher_id": str(c.id),
                "voucher_code": c.code,
                "user_id": buyer_id(c.consumer_id),
                "voucher_status": c.status.value.upper(),
                "valid_begin_time": _when(c.valid_from),
                "valid_end_time": _when(c.valid_until),
            }
            for c in coupons
        ],
    }


@gateway_method("alipay.marketing.activity.ordervoucher.use", scope="coupons", biz=UseBiz)
def gateway_use(ctx: GatewayContext, biz: UseBiz) -> dict[str, Any]:
    from ccare.coupons.schemas import yuan_fen

    activity = service.get_activity(ctx.db, ctx.principal.tenant, int(biz.activity_id))
    request = UseRequest(
        voucher_code=biz.voucher_code,
        out_biz_no=biz.out_biz_no,
        total_fee_fen=yuan_fen(biz.total_fee),
        trade_no=biz.trade_no,
    )
    coupon = redemption.use_code(ctx.db, ctx.principal, activity, request)
    return {
        "activity_id": str(activity.id),
        "voucher_use_detail_result_info": {
            "voucher_code": coupon.code,
            "deduct_amount": fen_to_yuan(coupon.discount_fen),
        },
    }


@gateway_method("alipay.marketing.activity.ordervoucher.refund", scope="coupons", biz=RefundUseBiz)
def gateway_refund(ctx: GatewayContext, biz: RefundUseBiz) -> dict[str, Any]:
    activity = service.get_activity(ctx.db, ctx.principal.tenant, int(biz.activity_id))
    request = UnuseRequest(voucher_code=biz.voucher_code, out_biz_no=biz.out_biz_no)
    redemption.unuse_code(ctx.db, ctx.principal, activity, request)
    return {}


@gateway_method("alipay.marketing.activity.ordervoucher.modify", scope="coupons", biz=ModifyBiz)
def gateway_modify(ctx: GatewayContext, biz: ModifyBiz) -> dict[str, Any]:
    end = parse_beijing_text(biz.publish_end_time) if biz.publish_end_time else None
    change = ActivityChangeRequest(name=biz.activity_name, claim_end=end)
    service.modify(ctx.db, ctx.principal, int(biz.activity_id), change)
    return {}


@router.get(
    ACTIVITY + "/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
    summary="A QR code for the counter: scanned, it opens this coupon in the app (offline_qr)",
)
def claim_qr(
    activity_id: IdPath, request: Request, db: DbSession, tenant: CurrentTenant
) -> Response:
    service.get_activity(db, tenant, activity_id)
    return Response(
        claim_qr_svg(claim_link(str(request.base_url), activity_id)), media_type="image/svg+xml"
    )
