"""Coupons on orders: preview, lock on order creation, use on pay, release on close,
return on refund (docs/adr/0010).

A coupon moves available → locked by one conditional UPDATE, so two orders can never hold
it; the order's reactions (paid, closed, refunded) arrive as events and are idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, Principal, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.coupons.models import Coupon, CouponActivity, CouponStatus, RefundPolicy
from ccare.coupons.pricing import CouponRule, Line, Quote, Rejected, evaluate, price
from ccare.coupons.repository import CouponRepository
from ccare.coupons.schemas import (
    AppliedOut,
    CheckoutPreview,
    CouponExpired,
    CouponLocked,
    CouponReleased,
    CouponUsed,
    QuoteOut,
    RefusedOut,
    UnuseRequest,
    UseRequest,
    ValiditySpec,
)
from ccare.coupons.validity import check_usable

MAX_COUPONS_PER_ORDER = 5
UNDONE = "undone:"  # use_ref of a coupon whose reported use was undone by that request
REASONS = {
    "coupon.not_yet_valid": "this coupon cannot be used yet",
    "coupon.expired": "this coupon has expired",
    "coupon.wrong_weekday": "this coupon cannot be used on this day of the week",
    "coupon.outside_hours": "this coupon cannot be used at this time of day",
}


@dataclass(frozen=True)
class Basket:
    """What an order (or a checkout preview) is made of."""

    merchant_id: int
    mini_program_id: int
    store_id: int | None
    lines: tuple[Line, ...]


def rule_of(coupon: Coupon, activity: CouponActivity) -> CouponRule:
    return CouponRule(
        key=str(coupon.id),
        activity_id=activity.id,
        kind=activity.kind,
        amount_fen=activity.amount_fen,
        floor_fen=activity.floor_fen,
        pay_rate_bp=activity.pay_rate_bp,
        ceiling_fen=activity.ceiling_fen,
        special_fen=activity.special_fen,
        items_include=(
            frozenset(activity.items_include) if activity.items_include is not None else None
        ),
        items_exclude=frozenset(activity.items_exclude),
        stacking=activity.stacking,
        priority=activity.priority,
        base=activity.base,
    )


def _refusal(
    coupon: Coupon,
    activity: CouponActivity,
    basket: Basket,
    now: datetime,
    *,
    check_places: bool = True,
) -> Rejected | None:
    """Why this coupon cannot go on this basket now, before any pricing; None: it can."""

    def no(code: str, message: str, **details: int | str) -> Rejected:
        return Rejected(str(coupon.id), code, message, dict(details))

    if coupon.status != CouponStatus.AVAILABLE:
        status = coupon.status.value
        return no("coupon.not_available", f"this coupon is {status}", status=status)
    if coupon.merchant_id != basket.merchant_id:
        return no("coupon.wrong_merchant", "this coupon is for another merchant")
    places = activity.mini_program_ids if check_places else None
    if places is not None and basket.mini_program_id not in places:
        return no("coupon.wrong_mini_program", "this coupon is not for this mini-program")
    stores = activity.store_ids if check_places else None
    if stores is not None and basket.store_id not in stores:
        return no("coupon.wrong_store", "this coupon is not for this store")
    if as_utc(coupon.valid_until) <= now:
        return no("coupon.expired", REASONS["coupon.expired"])
    window = check_usable(
        ValiditySpec(**activity.validity).to_validity(), as_utc(coupon.claimed_at), now
    )
    if window is not None:
        return no(window, REASONS[window])
    return None


def quote(
    db: Session,
    consumer_id: int,
    coupon_ids: Sequence[int],
    basket: Basket,
    now: datetime | None = None,
) -> Quote:
    """What these coupons would take off this basket, or exactly why each would not."""
    if len(coupon_ids) > MAX_COUPONS_PER_ORDER:
        raise InvalidInput(
            f"at most {MAX_COUPONS_PER_ORDER} coupons on one order", code="coupon.too_many"
        )
    now = now or utcnow()
    repo = CouponRepository(db, PLATFORM)
    coupons = repo.consumer_coupons(consumer_id, coupon_ids)
    activities = repo.activities_by_id({c.activity_id for c in coupons.values()})
    rules: list[CouponRule] = []
    refused: list[Rejected] = []
    for coupon_id in coupon_ids:
        coupon = coupons.get(coupon_id)
        if coupon is None:
            refused.append(
                Rejected(str(coupon_id), "coupon.not_found", "you have no such coupon", {})
            )
            continue
        activity = activities[coupon.activity_id]
        refusal = _refusal(coupon, activity, basket, now)
        if refusal is not None:
            refused.append(refusal)
        else:
            rules.append(rule_of(coupon, activity))
    result = price(basket.lines, rules)
    return Quote(
        result.total_fen,
        result.discount_fen,
        result.payable_fen,
        result.applied,
        tuple(refused) + result.rejected,
    )


def lock_for_order(
    db: Session, consumer_id: int, order_id: int, coupon_ids: Sequence[int], basket: Basket
) -> list[tuple[Coupon, int]]:
    """Hold the coupons for an unpaid order: (coupon, fen off) each; any refusal raises."""
    result = quote(db, consumer_id, coupon_ids, basket)
    if result.rejected:
        first = result.rejected[0]
        raise InvalidInput(
            first.message, code=first.code, coupon_id=int(first.key), **first.details
        )
    repo = CouponRepository(db, PLATFORM)
    coupons = repo.consumer_coupons(consumer_id, [int(a.key) for a in result.applied])
    taken: list[tuple[Coupon, int]] = []
    for applied in result.applied:
        coupon = coupons[int(applied.key)]
        if not repo.lock(coupon.id, order_id, applied.discount_fen):
            # Another order took it between the quote and now.
            raise Conflict(
                "this coupon is already on another order",
                code="coupon.not_available",
                coupon_id=coupon.id,
            )
        emit(
            db,
            CouponLocked(
                merchant_id=coupon.merchant_id,
                consumer_id=consumer_id,
                activity_id=coupon.activity_id,
                coupon_id=coupon.id,
                order_id=order_id,
                discount_fen=applied.discount_fen,
            ),
        )
        taken.append((coupon, applied.discount_fen))
    return taken


def use(db: Session, order_id: int, now: datetime | None = None) -> int:
    """The order was paid: its locked coupons are used. Returns how many changed."""
    repo = CouponRepository(db, PLATFORM)
    now = now or utcnow()
    changed = repo.settle(order_id, used_at=now)
    for coupon in changed:
        _announce_used(db, coupon, order_id, coupon.discount_fen, now)
    return len(changed)


def release(db: Session, order_id: int, reason: str, now: datetime | None = None) -> int:
    """The order was closed unpaid (or refunded under a return policy): coupons come back,
    or expire if their time is over."""
    now = now or utcnow()
    repo = CouponRepository(db, PLATFORM)
    status = CouponStatus.LOCKED if reason == "closed" else CouponStatus.USED
    coupons = repo.on_order(order_id, status)
    if reason == "refunded":
        activities = repo.activities_by_id({c.activity_id for c in coupons})
        coupons = [
            c for c in coupons if activities[c.activity_id].refund_policy == RefundPolicy.RETURN
        ]
    for coupon in coupons:
        _give_back(db, repo, coupon, status, order_id, reason, now)
    return len(coupons)


def _give_back(
    db: Session,
    repo: CouponRepository,
    coupon: Coupon,
    status: CouponStatus,
    order_id: int | None,
    reason: str,
    now: datetime,
) -> None:
    """The coupon is the user's again, or expired if its time is over; announced."""
    back = as_utc(coupon.valid_until) > now
    repo.unlock(coupon.id, status, CouponStatus.AVAILABLE if back else CouponStatus.EXPIRED)
    emit(
        db,
        CouponReleased(
            merchant_id=coupon.merchant_id,
            consumer_id=coupon.consumer_id,
            activity_id=coupon.activity_id,
            coupon_id=coupon.id,
            order_id=order_id,
            reason=reason,
            status="available" if back else "expired",
            occurred_at=now,  # when the order closed or was refunded, not when relayed
        ),
    )


def _announce_used(
    db: Session, coupon: Coupon, order_id: int | None, discount_fen: int, at: datetime
) -> None:
    """`at`: when the coupon was used (the order's payment), not when this is relayed."""
    emit(
        db,
        CouponUsed(
            merchant_id=coupon.merchant_id,
            consumer_id=coupon.consumer_id,
            activity_id=coupon.activity_id,
            coupon_id=coupon.id,
            order_id=order_id,
            discount_fen=discount_fen,
            occurred_at=at,
        ),
    )


def preview(db: Session, consumer_id: int, data: CheckoutPreview) -> QuoteOut:
    """The checkout's question: what would these coupons take off, or why not."""
    from ccare.catalog import service as catalog

    priced = catalog.price_lines(
        db, data.mini_program_id, [(x.item_id, x.quantity) for x in data.lines]
    )
    basket = Basket(
        merchant_id=priced[0].merchant_id,
        mini_program_id=data.mini_program_id,
        store_id=data.store_id,
        lines=tuple(Line(p.item_id, p.unit_price_fen, p.quantity) for p in priced),
    )
    result = quote(db, consumer_id, data.coupon_ids, basket)
    return QuoteOut(
        total_fen=result.total_fen,
        discount_fen=result.discount_fen,
        payable_fen=result.payable_fen,
        applied=[
            AppliedOut(coupon_id=int(a.key), discount_fen=a.discount_fen) for a in result.applied
        ],
        refused=[
            RefusedOut(coupon_id=int(r.key), code=r.code, message=r.message, details=r.details)
            for r in result.rejected
        ],
    )


def expire_due(db: Session, now: datetime | None = None, limit: int = 500) -> int:
    """Coupons past their end that nobody used: expired, one event each."""
    repo = CouponRepository(db, PLATFORM)
    expired = repo.expire_due(now or utcnow(), limit)
    for coupon in expired:
        emit(
            db,
            CouponExpired(
                merchant_id=coupon.merchant_id,
                consumer_id=coupon.consumer_id,
                activity_id=coupon.activity_id,
                coupon_id=coupon.id,
                code=coupon.code,
            ),
        )
    return len(expired)


def find_coupons(
    db: Session, tenant: Tenant, activity_id: int, *, code: str | None, consumer_id: int | None
) -> list[Coupon]:
    """A merchant looks a voucher up by its code, or a user's vouchers of an activity."""
    repo = CouponRepository(db, tenant)
    if code:
        coupon = repo.coupon_by_code(activity_id, code)
        found = [coupon] if coupon is not None else []
        return [c for c in found if consumer_id is None or c.consumer_id == consumer_id]
    return repo.coupons(activity_id=activity_id, consumer_id=consumer_id)


def use_code(
    db: Session, actor: Principal, activity: CouponActivity, request: UseRequest
) -> Coupon:
    """A coupon used at the merchant's own till: checked like any use (status, validity,
    minimum spend), then used once; the same out_biz_no again is the same use."""
    repo = CouponRepository(db, actor.tenant)
    coupon = repo.coupon_by_code(activity.id, request.voucher_code)
    if coupon is None:
        raise NotFound("no such voucher", code="coupon.not_found")
    if coupon.status == CouponStatus.USED and coupon.use_ref == request.out_biz_no:
        return coupon
    now = utcnow()
    basket = Basket(activity.merchant_id, 0, None, (Line(0, request.total_fee_fen, 1),))
    unscoped = replace(rule_of(coupon, activity), items_include=None, items_exclude=frozenset())
    refusal = _refusal(coupon, activity, basket, now, check_places=False)
    outcome = refusal or evaluate(basket.lines, unscoped)
    if isinstance(outcome, Rejected):
        raise InvalidInput(outcome.message, code=outcome.code, **outcome.details)
    if not repo.use_reported(
        coupon.id, outcome.discount_fen, request.out_biz_no, request.trade_no, now
    ):
        raise Conflict("this coupon was used meanwhile", code="coupon.not_available")
    _announce_used(db, coupon, None, outcome.discount_fen, utcnow())
    db.refresh(coupon)
    return coupon


def unuse_code(
    db: Session, actor: Principal, activity: CouponActivity, request: UnuseRequest
) -> Coupon:
    """Undo a reported use: the coupon is the user's again (or expired, if its time is
    over). Uses on ccare orders are undone by refunding the order instead."""
    repo = CouponRepository(db, actor.tenant)
    coupon = repo.coupon_by_code(activity.id, request.voucher_code)
    if coupon is None:
        raise NotFound("no such voucher", code="coupon.not_found")
    undo_ref = UNDONE + request.out_biz_no
    if coupon.status != CouponStatus.USED:
        if coupon.use_ref == undo_ref:
            return coupon  # already undone: the same request again
        raise Conflict(f"this coupon is {coupon.status.value}", code="coupon.not_used")
    if coupon.order_id is not None:
        raise Conflict(
            "this coupon was used on an order: refund the order", code="coupon.used_on_order"
        )
    _give_back(db, repo, coupon, CouponStatus.USED, None, "refunded", utcnow())
    db.refresh(coupon)
    coupon.use_ref = undo_ref
    db.flush()
    return coupon
