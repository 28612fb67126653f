"""The promotion platform API: placements, plans, ad groups, creatives and their review."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from ccare.core.tenancy import Principal, PrincipalKind
from ccare.merchants import service as merchants
from ccare.promotion import brand_terms, decisions, service, tracking
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
    ReservedTermCreate,
    ReservedTermOut,
    ReviewRequest,
)
from ccare.promotion.serving_schemas import (
    AdAccountOut,
    AdTopUp,
    AdTopUpOut,
    ClickOut,
    ConversionOut,
    ConversionUpload,
    DecisionOut,
    DecisionRequest,
    ImpressionOut,
    Landing,
    ServedAdOut,
    TokenIn,
)
from ccare.web.deps import (
    CurrentStaff,
    CurrentTenant,
    DbSession,
    IdempotencyKey,
    IdPath,
    OptionalPrincipal,
    SettingsDep,
    client_ip,
)
from ccare.web.idempotent import run_idempotent
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


# --- the advertiser account ----------------------------------------------------------


@router.get("/ad-account", response_model=AdAccountOut, summary="The prepaid advertising balance")
def ad_account(
    db: DbSession,
    staff: CurrentStaff,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> AdAccountOut:
    merchant = merchants.merchant_for(db, staff, merchant_id, code="promotion.merchant_required")
    return AdAccountOut(
        merchant_id=merchant, balance_fen=service.ad_balance(db, staff.tenant, merchant)
    )


@router.post(
    "/ad-account/top-ups",
    response_model=AdTopUpOut,
    status_code=201,
    summary="Prepay advertising from the sales balance (Idempotency-Key required)",
)
def ad_top_up(
    body: AdTopUp, db: DbSession, staff: CurrentStaff, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> AdTopUpOut:
        entry_id, merchant = service.top_up(
            db, staff, body.merchant_id, body.amount_fen, body.source
        )
        return AdTopUpOut(
            merchant_id=merchant,
            entry_id=entry_id,
            amount_fen=body.amount_fen,
            balance_fen=service.ad_balance(db, staff.tenant, merchant),
        )

    return run_idempotent(db, staff, key, "promotion.top_up", body, produce, status_code=201)


# --- serving and tracking ------------------------------------------------------------


def _consumer_id(principal: Principal | None) -> int | None:
    return principal.id if principal and principal.kind == PrincipalKind.CONSUMER else None


@router.post(
    "/ad-decisions",
    response_model=DecisionOut,
    summary="Ads for a placement: the consumer's own context when signed in, else anonymous",
)
def decide(
    body: DecisionRequest, db: DbSession, settings: SettingsDep, principal: OptionalPrincipal
) -> DecisionOut:
    decision = decisions.decide(
        db,
        settings.secret_key,
        placement=body.placement,
        consumer_id=_consumer_id(principal),
        city=body.city,
        query=body.query or None,
    )
    return DecisionOut(
        decision_id=decision.decision_id,
        placement=decision.placement,
        ads=[
            ServedAdOut(
                slot=ad.slot,
                kind=ad.kind,
                merchant_id=ad.merchant_id,
                creative_id=ad.creative.creative_id,
                title=ad.creative.title,
                description=ad.creative.description,
                landing=Landing(mini_program_id=ad.creative.mini_program_id, page=ad.creative.page),
                coupon_activity_id=ad.creative.coupon_activity_id,
                keyword=ad.keyword,
                impression_token=ad.impression_token,
                click_token=ad.click_token,
            )
            for ad in decision.ads
        ],
    )


@router.post(
    "/ad-events/impressions",
    response_model=ImpressionOut,
    status_code=201,
    summary="An ad was shown: once per impression token",
)
def impression(
    body: TokenIn, db: DbSession, settings: SettingsDep, principal: OptionalPrincipal
) -> ImpressionOut:
    row = tracking.record_impression(db, settings.secret_key, body.token, principal)
    return ImpressionOut(impression_id=row.id, charged_millifen=row.cost_millifen)


@router.post(
    "/ad-events/clicks",
    response_model=ClickOut,
    status_code=201,
    summary="An ad was tapped: once per click token, after its impression",
)
def click(
    body: TokenIn,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    principal: OptionalPrincipal,
) -> ClickOut:
    outcome = tracking.record_click(
        db, settings.secret_key, body.token, principal, client_ip(request)
    )
    c = outcome.click
    return ClickOut(
        click_id=c.id,
        status=c.status.value,
        reason=c.invalid_reason,
        charged_millifen=c.cost_millifen,
        landing=Landing(mini_program_id=outcome.landing[0], page=outcome.landing[1]),
    )


@router.post(
    "/ad-conversions",
    response_model=ConversionOut,
    status_code=201,
    summary="Report a conversion (a lead, an offline sale) on one of your ad clicks; the same"
    " out_conversion_no again returns the same conversion",
)
def upload_conversion(
    body: ConversionUpload, db: DbSession, staff: CurrentStaff, response: Response
) -> ConversionOut:
    merchant = merchants.merchant_for(
        db, staff, body.merchant_id, code="promotion.merchant_required"
    )
    conversion, created = tracking.upload_conversion(
        db,
        staff,
        merchant_id=merchant,
        click_id=body.click_id,
        out_conversion_no=body.out_conversion_no,
        kind=body.kind,
        value_fen=body.value_fen,
        occurred_at=body.occurred_at,
    )
    if not created:
        response.status_code = 200
    return ConversionOut.model_validate(conversion)


@router.get(
    "/ad-reserved-terms",
    response_model=list[ReservedTermOut],
    summary="Operator: brand direct-zone terms (品牌专区) and their brands",
)
def reserved_terms(db: DbSession, staff: CurrentStaff) -> list[ReservedTermOut]:
    return [ReservedTermOut.model_validate(t) for t in brand_terms.list_terms(db, staff)]


@router.post(
    "/ad-reserved-terms",
    response_model=ReservedTermOut,
    status_code=201,
    summary="Operator: reserve a search term for its certified brand; other advertisers"
    " cannot buy keywords it covers, and searches it covers show only the brand's ads",
)
def reserve_term(
    body: ReservedTermCreate, db: DbSession, staff: CurrentStaff, response: Response
) -> ReservedTermOut:
    term, created = brand_terms.reserve(db, staff, body.term, body.merchant_id)
    if not created:
        response.status_code = 200
    return ReservedTermOut.model_validate(term)


@router.delete(
    "/ad-reserved-terms/{term_id}",
    status_code=204,
    summary="Operator: release a reserved term",
)
def release_term(term_id: IdPath, db: DbSession, staff: CurrentStaff) -> Response:
    brand_terms.release(db, staff, term_id)
    return Response(status_code=204)


from ccare.promotion import report_api  # noqa: E402

# Flat, as add_routes wants them (include_router would nest a router to scan per request).
router.routes.extend(report_api.router.routes)
