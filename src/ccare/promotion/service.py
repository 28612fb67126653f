"""Plans, ad groups and creatives: the rules an advertiser and the reviewing operator act
through. Bids are checked against the reserve of every placement they target; targeting
names only placements, segments and coupons that exist and are the merchant's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.core.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import utcnow
from ccare.coupons import service as coupons
from ccare.merchants import service as merchants
from ccare.promotion import brand_terms, keywords
from ccare.promotion import decisions as serving
from ccare.promotion.models import (
    AdCreative,
    AdGroup,
    AdPlan,
    AdStatus,
    BidType,
    ChargeType,
    Objective,
    ReviewStatus,
)
from ccare.promotion.placements import BY_KEY, PLACEMENTS, Placement
from ccare.promotion.repository import PromotionRepository, ReviewQueueRepository
from ccare.promotion.schemas import (
    CreativeCreate,
    GroupCreate,
    GroupUpdate,
    PlanCreate,
    PlanUpdate,
    ReviewRequest,
    Targeting,
)
from ccare.segments import service as segments

SEARCH = "search_results"
CONVERSION_OBJECTIVES = (Objective.TRANSACTIONS, Objective.LEADS)


def placements() -> tuple[Placement, ...]:
    return PLACEMENTS


# --- plans --------------------------------------------------------------------------


def get_plan(db: Session, tenant: Tenant, plan_id: int) -> AdPlan:
    plan = PromotionRepository(db, tenant).plan(plan_id)
    if plan is None:
        raise NotFound("no such plan", code="promotion.plan_not_found")
    return plan


def list_plans(db: Session, tenant: Tenant, merchant_id: int | None = None) -> list[AdPlan]:
    return PromotionRepository(db, tenant).plans(merchant_id)


def _check_budget(daily: int, total: int | None, hours: str) -> None:
    if total is not None and total < daily:
        raise InvalidInput(
            "the total budget is below the daily budget", code="promotion.total_below_daily"
        )
    if "1" not in hours:
        raise InvalidInput("the plan may serve in no hour of the week", code="promotion.no_hours")


def create_plan(db: Session, actor: Principal, data: PlanCreate) -> tuple[AdPlan, bool]:
    merchants.require_manager(actor)
    merchant_id = merchants.merchant_for(
        db, actor, data.merchant_id, code="promotion.merchant_required"
    )
    repo = PromotionRepository(db, actor.tenant)
    earlier = repo.plan_by_request_no(merchant_id, data.out_request_no)
    fields = data.model_dump(exclude={"merchant_id", "out_request_no"})
    if earlier is not None:
        if {k: getattr(earlier, k) for k in fields} != fields:
            raise Conflict(
                "out_request_no was used for another plan", code="promotion.request_conflict"
            )
        return earlier, False
    _check_budget(data.daily_budget_fen, data.total_budget_fen, data.hours)
    plan = AdPlan(merchant_id=merchant_id, out_request_no=data.out_request_no, **fields)
    repo.add(plan)
    serving.invalidate(db)
    return plan, True


def _not_ended(status: AdStatus, what: str) -> None:
    if status == AdStatus.ENDED:
        raise IllegalTransition(f"the {what} has ended", code=f"promotion.{what}_ended")


def update_plan(db: Session, actor: Principal, plan_id: int, data: PlanUpdate) -> AdPlan:
    plan = get_plan(db, actor.tenant, plan_id)
    merchants.require_manager(actor)
    _not_ended(plan.status, "plan")
    changes = data.model_dump(exclude_unset=True)
    daily = changes.get("daily_budget_fen", plan.daily_budget_fen)
    total = changes.get("total_budget_fen", plan.total_budget_fen)
    _check_budget(daily, total, changes.get("hours", plan.hours))
    for key, value in changes.items():
        setattr(plan, key, value)
    db.flush()
    serving.invalidate(db)
    return plan


# --- ad groups ----------------------------------------------------------------------


def get_group(db: Session, tenant: Tenant, group_id: int) -> AdGroup:
    group = PromotionRepository(db, tenant).group(group_id)
    if group is None:
        raise NotFound("no such ad group", code="promotion.group_not_found")
    return group


def list_groups(db: Session, tenant: Tenant, plan_id: int) -> list[AdGroup]:
    get_plan(db, tenant, plan_id)
    return PromotionRepository(db, tenant).groups(plan_id)


def _check_placements(plan: AdPlan, bid_fen: int, targeting: Targeting) -> None:
    for key in targeting.placements:
        placement = BY_KEY.get(key)
        if placement is None:
            raise InvalidInput(
                f"unknown placement {key!r}", code="promotion.placement_unknown", placement=key
            )
        if not placement.auctioned:
            raise InvalidInput(
                f"{key} is booked as a brand event, not auctioned",
                code="promotion.placement_not_auctioned",
                placement=key,
            )
        if plan.charge_type == ChargeType.CPM and not placement.cpm:
            raise InvalidInput(
                f"{key} sells clicks only: use a CPC plan",
                code="promotion.cpm_not_sold",
                placement=key,
            )
        reserve = (
            placement.reserve_cpm_fen
            if plan.charge_type == ChargeType.CPM
            else placement.reserve_cpc_fen
        )
        if bid_fen < reserve:
            raise InvalidInput(
                f"the bid is below {key}'s reserve of {reserve} fen",
                code="promotion.bid_below_reserve",
                placement=key,
                reserve_fen=reserve,
            )


def _check_targeting(
    db: Session, tenant: Tenant, plan: AdPlan, bid_fen: int, targeting: Targeting
) -> None:
    _check_placements(plan, bid_fen, targeting)
    searching = SEARCH in targeting.placements
    if targeting.search_words and not searching:
        raise InvalidInput(
            "search words need the search_results placement",
            code="promotion.search_words_need_search",
        )
    if searching and not targeting.search_words:
        raise InvalidInput(
            "an ad group on search results needs search words",
            code="promotion.search_words_required",
        )
    words = [w if isinstance(w, str) else w.word for w in targeting.search_words]
    for word in words:
        keywords.validate_keyword(word)
    brand_terms.check_words(db, words, plan.merchant_id)
    both = set(targeting.segments_include) & set(targeting.segments_exclude)
    if both:
        raise InvalidInput(
            "a segment is both included and excluded",
            code="promotion.segment_both",
            segment_ids=sorted(both),
        )
    for segment_id in [*targeting.segments_include, *targeting.segments_exclude]:
        if segments.get(db, tenant, segment_id).merchant_id != plan.merchant_id:
            raise NotFound("no such segment", code="segment.not_found")


def _check_bidding(
    plan: AdPlan, bid_type: BidType, target_cpa: int | None, target_roi: int | None
) -> None:
    if bid_type == BidType.OCPC:
        if plan.objective not in CONVERSION_OBJECTIVES:
            raise InvalidInput(
                "oCPC optimises conversions: the plan's objective must be transactions or leads",
                code="promotion.ocpc_needs_conversions",
            )
        if target_cpa is None:
            raise InvalidInput("oCPC needs target_cpa_fen", code="promotion.target_cpa_required")
    elif target_cpa is not None:
        raise InvalidInput("target_cpa_fen is for oCPC groups", code="promotion.target_not_allowed")
    if bid_type == BidType.TARGET_ROI:
        if plan.objective != Objective.TRANSACTIONS:
            raise InvalidInput(
                "a target ROI needs the transactions objective",
                code="promotion.roi_needs_transactions",
            )
        if target_roi is None:
            raise InvalidInput(
                "target_roi groups need target_roi_bp", code="promotion.target_roi_required"
            )
    elif target_roi is not None:
        raise InvalidInput(
            "target_roi_bp is for target_roi groups", code="promotion.target_not_allowed"
        )


def create_group(db: Session, actor: Principal, data: GroupCreate) -> AdGroup:
    plan = get_plan(db, actor.tenant, data.plan_id)
    merchants.require_manager(actor)
    _not_ended(plan.status, "plan")
    _check_bidding(plan, data.bid_type, data.target_cpa_fen, data.target_roi_bp)
    _check_targeting(db, actor.tenant, plan, data.bid_fen, data.targeting)
    group = AdGroup(
        plan_id=plan.id,
        merchant_id=plan.merchant_id,
        name=data.name,
        bid_type=data.bid_type,
        bid_fen=data.bid_fen,
        target_cpa_fen=data.target_cpa_fen,
        target_roi_bp=data.target_roi_bp,
        targeting=data.targeting.model_dump(mode="json"),
        frequency_per_day=data.frequency_per_day,
    )
    PromotionRepository(db, actor.tenant).add(group)
    serving.invalidate(db)
    return group


def update_group(db: Session, actor: Principal, group_id: int, data: GroupUpdate) -> AdGroup:
    group = get_group(db, actor.tenant, group_id)
    merchants.require_manager(actor)
    plan = get_plan(db, actor.tenant, group.plan_id)
    _not_ended(plan.status, "plan")
    _not_ended(group.status, "group")
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, mode="json")
    merged = {
        "bid_fen": group.bid_fen,
        "target_cpa_fen": group.target_cpa_fen,
        "target_roi_bp": group.target_roi_bp,
        "targeting": group.targeting,
        **changes,
    }
    targeting = Targeting.model_validate(merged["targeting"])
    _check_bidding(plan, group.bid_type, merged["target_cpa_fen"], merged["target_roi_bp"])
    _check_targeting(db, actor.tenant, plan, merged["bid_fen"], targeting)
    for key, value in changes.items():
        setattr(group, key, value)
    db.flush()
    serving.invalidate(db)
    return group


# --- creatives ----------------------------------------------------------------------


def get_creative(db: Session, tenant: Tenant, creative_id: int) -> AdCreative:
    creative = PromotionRepository(db, tenant).creative(creative_id)
    if creative is None:
        raise NotFound("no such creative", code="promotion.creative_not_found")
    return creative


def list_creatives(
    db: Session,
    tenant: Tenant,
    *,
    group_id: int | None = None,
    review_status: ReviewStatus | None = None,
) -> list[AdCreative]:
    if group_id is not None:
        get_group(db, tenant, group_id)
    return PromotionRepository(db, tenant).creatives(group_id, review_status)


def create_creative(db: Session, actor: Principal, data: CreativeCreate) -> AdCreative:
    group = get_group(db, actor.tenant, data.group_id)
    merchants.require_manager(actor)
    _not_ended(group.status, "group")
    try:
        landing = catalog.get_mini_program(db, actor.tenant, data.mini_program_id)
    except NotFound:
        landing = None
    if landing is None or landing.merchant_id != group.merchant_id:
        raise NotFound(
            "the landing mini-program is not one of yours", code="promotion.landing_not_found"
        )
    if data.coupon_activity_id is not None:
        activity = coupons.get_activity(db, actor.tenant, data.coupon_activity_id)
        if activity.merchant_id != group.merchant_id:
            raise NotFound("no such coupon activity", code="coupon.activity_not_found")
    creative = AdCreative(
        group_id=group.id,
        merchant_id=group.merchant_id,
        title=data.title,
        description=data.description,
        mini_program_id=landing.id,
        page=data.page,
        coupon_activity_id=data.coupon_activity_id,
        review_status=ReviewStatus.PENDING,
    )
    PromotionRepository(db, actor.tenant).add(creative)
    serving.invalidate(db)
    return creative


def review_queue(
    db: Session, actor: Principal, limit: int, offset: int = 0
) -> tuple[list[tuple[AdCreative, str, str]], int]:
    """The operator's queue: pending creatives oldest first, with their group and plan
    names, and how many are pending in all."""
    merchants.require_operator(actor)
    repo = ReviewQueueRepository(db, actor.tenant)
    return repo.pending(limit, offset), repo.pending_count()


def review_creative(
    db: Session,
    actor: Principal,
    creative_id: int,
    data: ReviewRequest,
    now: datetime | None = None,
) -> AdCreative:
    """The operator's decision: only approved creatives serve. A rejection says why."""
    merchants.require_operator(actor)
    creative = get_creative(db, actor.tenant, creative_id)
    if data.decision == "rejected" and not data.note:
        raise InvalidInput(
            "say why the creative is rejected", code="promotion.review_note_required"
        )
    creative.review_status = ReviewStatus(data.decision)
    creative.review_note = data.note
    creative.reviewed_at = now or utcnow()
    db.flush()
    serving.invalidate(db)
    return creative


# --- the advertiser account ------------------------------------------------------------


def ad_balance(db: Session, tenant: Tenant, merchant_id: int) -> int:
    from ccare.ledger import service as ledger

    merchants.get_merchant(db, tenant, merchant_id)
    return ledger.advertiser_balance(db, merchant_id)


def top_up(
    db: Session, actor: Principal, merchant_id: int | None, amount_fen: int, source: str
) -> tuple[int, int]:
    """Prepay advertising; (journal entry id, merchant id). Only an operator records money
    that arrived outside the platform."""
    from uuid import uuid4

    from ccare.ledger import service as ledger

    merchants.require_manager(actor)
    merchant = merchants.merchant_for(db, actor, merchant_id, code="promotion.merchant_required")
    if source == "bank_transfer" and not actor.is_operator:
        raise Forbidden("only an operator records a bank transfer", code="promotion.operator_only")
    entry = ledger.fund_advertiser(
        db, merchant, amount_fen, f"ad-top-up:{uuid4().hex}", from_settlement=source == "settlement"
    )
    serving.invalidate(db)
    return entry.id, merchant
