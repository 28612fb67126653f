"""Coupon activities: create, change status, modify, append, deposit codes, history,
expiry, the public venue and search passphrases. Claims are in `claims.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, SYSTEM, Principal, PrincipalKind, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.coupons.models import (
    ActivityChange,
    ActivityStatus,
    CodeMode,
    CouponActivity,
)
from ccare.coupons.repository import CouponRepository
from ccare.coupons.schemas import (
    ActivityChanged,
    ActivityChangeRequest,
    ActivityCreate,
    ActivityOut,
    AppendQuantity,
    ValiditySpec,
)
from ccare.coupons.validity import Validity
from ccare.coupons.validity import validate as validate_validity
from ccare.merchants import service as merchants

LOCAL = ZoneInfo("Asia/Shanghai")  # claim limits count local calendar days, weeks, months
MAX_BUCKETS = 16
UNITS_PER_BUCKET = 100
S = ActivityStatus
TRANSITIONS: dict[ActivityStatus, frozenset[ActivityStatus]] = {
    S.DRAFT: frozenset({S.ACTIVE, S.STOPPED}),
    S.ACTIVE: frozenset({S.PAUSED, S.STOPPED}),
    S.PAUSED: frozenset({S.ACTIVE, S.STOPPED}),
    S.STOPPED: frozenset(),
    S.EXPIRED: frozenset(),
}


def require_manager(actor: Principal) -> None:
    if actor.kind == PrincipalKind.CONSUMER or not actor.can_manage():
        raise Forbidden("owners and managers only", code="staff.role_forbidden")


def merchant_for(actor: Principal, requested: int | None) -> int:
    """The merchant a call is about: the one named, or the caller's own."""
    if requested is not None:
        return requested
    if actor.merchant_id is not None:
        return actor.merchant_id
    if len(actor.tenant.merchant_ids) == 1:
        return next(iter(actor.tenant.merchant_ids))
    raise InvalidInput("say which merchant", code="coupon.merchant_required")


def _who(actor: Principal) -> str:
    return f"{actor.kind.value}:{actor.app_id or actor.id}"


def _record(
    repo: CouponRepository,
    activity: CouponActivity,
    actor: Principal,
    action: str,
    changes: dict[str, Any],
) -> None:
    repo.add(
        ActivityChange(
            activity_id=activity.id,
            merchant_id=activity.merchant_id,
            action=action,
            actor=_who(actor),
            changes=changes,
        )
    )
    emit(
        repo.db,
        ActivityChanged(
            merchant_id=activity.merchant_id,
            activity_id=activity.id,
            out_biz_no=activity.out_biz_no,
            action=action,
            status=activity.status.value,
        ),
    )


def validity_of(spec: ValiditySpec) -> Validity:
    try:
        validity = spec.to_validity()
        validate_validity(validity)
    except ValueError as exc:
        raise InvalidInput(f"validity: {exc}", code="coupon.invalid_validity") from None
    return validity


# --- activities -------------------------------------------------------------------------


def create_activity(db: Session, actor: Principal, data: ActivityCreate) -> CouponActivity:
    merchant = merchants.get_merchant(db, actor.tenant, merchant_for(actor, data.merchant_id))
    require_manager(actor)
    repo = CouponRepository(db, actor.tenant)
    # Left out when off, so requests recorded before the field existed still compare equal.
    left_out = {"merchant_id"} | (set() if data.favoriters_only else {"favoriters_only"})
    request = data.model_dump(mode="json", exclude=left_out)
    existing = repo.activity_by_out_biz_no(merchant.id, data.out_biz_no)
    if existing is not None:
        created = repo.changes(existing.id)[0]
        if created.changes != request:
            raise Conflict(
                "this out_biz_no created an activity with other settings",
                code="coupon.out_biz_no_reused",
                activity_id=existing.id,
            )
        return existing
    validity_of(data.validity)
    if data.passphrase is not None:
        # Passphrases are one namespace across merchants: checked platform-wide.
        _check_passphrase(CouponRepository(db, PLATFORM), data.passphrase)
    face = data.face_fen
    quantity = data.quantity
    if data.budget_fen is not None:
        if data.budget_fen < face:
            raise InvalidInput(
                "the money budget is below one coupon's face value",
                code="coupon.budget_below_face",
                face_fen=face,
            )
        quantity = min(quantity, data.budget_fen // face)
    activity = CouponActivity(
        merchant_id=merchant.id,
        out_biz_no=data.out_biz_no,
        name=data.name,
        status=ActivityStatus.ACTIVE if data.activate else ActivityStatus.DRAFT,
        kind=data.kind,
        amount_fen=data.amount_fen,
        floor_fen=data.floor_fen,
        pay_rate_bp=data.pay_rate_bp or 10000,
        ceiling_fen=data.ceiling_fen,
        special_fen=data.special_fen,
        quantity=quantity,
        budget_fen=data.budget_fen,
        face_fen=face,
        daily_cap=data.daily_cap,
        user_limits=data.user_limits.model_dump(exclude_none=True),
        device_limit=data.device_limit,
        claim_begin=data.claim_begin,
        claim_end=data.claim_end,
        validity=data.validity.model_dump(mode="json"),
        items_include=data.items_include,
        items_exclude=data.items_exclude,
        store_ids=data.store_ids,
        mini_program_ids=data.mini_program_ids,
        favoriters_only=data.favoriters_only,
        stacking=data.stacking,
        priority=data.priority,
        base=data.base,
        refund_policy=data.refund_policy,
        code_mode=data.code_mode,
        passphrase=data.passphrase,
        buckets=min(MAX_BUCKETS, max(1, quantity // UNITS_PER_BUCKET)),
    )
    repo.add(activity)
    repo.create_buckets(activity.id, quantity, activity.buckets)
    _record(repo, activity, actor, "created", request)
    return activity


def _check_passphrase(repo: CouponRepository, passphrase: str) -> None:
    if repo.activity_by_passphrase(passphrase) is not None:
        raise Conflict(
            "another activity already answers this passphrase", code="coupon.passphrase_taken"
        )


def venue(db: Session, *, limit: int, now: datetime | None = None) -> list[CouponActivity]:
    """The coupon venue: every merchant's activities open for claims now, newest first."""
    return CouponRepository(db, PLATFORM).open_activities(now or utcnow(), limit)


def by_passphrase(db: Session, passphrase: str, now: datetime | None = None) -> CouponActivity:
    """The open activity a searched passphrase names."""
    activity = CouponRepository(db, PLATFORM).activity_by_passphrase(passphrase.strip())
    now = now or utcnow()
    if (
        activity is None
        or activity.status != ActivityStatus.ACTIVE
        or not as_utc(activity.claim_begin) <= now < as_utc(activity.claim_end)
    ):
        raise NotFound("no coupon answers this passphrase", code="coupon.passphrase_not_found")
    return activity


def get_activity(db: Session, tenant: Tenant, activity_id: int) -> CouponActivity:
    activity = CouponRepository(db, tenant).activity(activity_id)
    if activity is None:
        raise NotFound("no such coupon activity", code="coupon.activity_not_found")
    return activity


def list_activities(
    db: Session, tenant: Tenant, merchant_id: int | None = None
) -> list[ActivityOut]:
    repo = CouponRepository(db, tenant)
    activities = repo.activities(merchant_id)
    left = repo.remaining([a.id for a in activities])
    return [out(a, left.get(a.id, 0)) for a in activities]


def activity_out(db: Session, tenant: Tenant, activity: CouponActivity) -> ActivityOut:
    left = CouponRepository(db, tenant).remaining([activity.id]).get(activity.id, 0)
    return out(activity, left)


def out(activity: CouponActivity, remaining: int) -> ActivityOut:
    out = ActivityOut.model_validate(activity)
    return out.model_copy(update={"remaining": remaining, "issued": activity.quantity - remaining})


def history(db: Session, tenant: Tenant, activity_id: int) -> list[ActivityChange]:
    get_activity(db, tenant, activity_id)
    return CouponRepository(db, tenant).changes(activity_id)


def set_status(
    db: Session, actor: Principal, activity_id: int, status: ActivityStatus
) -> CouponActivity:
    activity = get_activity(db, actor.tenant, activity_id)
    require_manager(actor)
    if status == activity.status:
        return activity
    if status not in TRANSITIONS[activity.status]:
        raise IllegalTransition(
            f"a {activity.status.value} activity cannot become {status.value}",
            code="coupon.illegal_transition",
            status=activity.status.value,
        )
    before = activity.status
    activity.status = status
    action = {S.ACTIVE: "activated", S.PAUSED: "paused", S.STOPPED: "stopped"}[status]
    _record(
        CouponRepository(db, actor.tenant),
        activity,
        actor,
        action,
        {"status": [before.value, status.value]},
    )
    return activity


def modify(
    db: Session, actor: Principal, activity_id: int, change: ActivityChangeRequest
) -> CouponActivity:
    activity = get_activity(db, actor.tenant, activity_id)
    require_manager(actor)
    if activity.status in (S.STOPPED, S.EXPIRED):
        raise IllegalTransition(
            f"a {activity.status.value} activity cannot change",
            code="coupon.illegal_transition",
            status=activity.status.value,
        )
    changes: dict[str, Any] = {}
    if change.claim_end is not None and change.claim_end <= as_utc(activity.claim_begin):
        raise InvalidInput("claim_end must be after claim_begin", code="coupon.invalid_window")
    fields: dict[str, Any] = {
        "name": change.name,
        "claim_end": change.claim_end,
        "daily_cap": change.daily_cap,
        "user_limits": (
            change.user_limits.model_dump(exclude_none=True) if change.user_limits else None
        ),
        "passphrase": change.passphrase,
    }
    if change.passphrase is not None and activity.favoriters_only:
        raise InvalidInput(
            "a favoriters-only coupon is not offered by a passphrase",
            code="coupon.favoriters_only_passphrase",
        )
    if change.passphrase is not None and change.passphrase != activity.passphrase:
        _check_passphrase(CouponRepository(db, PLATFORM), change.passphrase)
    for name, value in fields.items():
        if value is None:
            continue
        before = getattr(activity, name)
        if name == "claim_end":
            before, shown = as_utc(before).isoformat(), value.isoformat()
        else:
            shown = value
        if before != shown:
            changes[name] = [before, shown]
            setattr(activity, name, value)
    if changes:
        _record(CouponRepository(db, actor.tenant), activity, actor, "modified", changes)
    return activity


def append(
    db: Session, actor: Principal, activity_id: int, request: AppendQuantity
) -> CouponActivity:
    activity = get_activity(db, actor.tenant, activity_id)
    require_manager(actor)
    repo = CouponRepository(db, actor.tenant)
    done = [
        c
        for c in repo.changes(activity.id)
        if c.action == "appended" and c.changes.get("out_request_no") == request.out_request_no
    ]
    if done:
        if done[0].changes.get("add") != request.add:
            raise Conflict(
                "this out_request_no appended another quantity",
                code="coupon.out_request_no_reused",
            )
        return activity
    if activity.status in (S.STOPPED, S.EXPIRED):
        raise IllegalTransition(
            f"a {activity.status.value} activity takes no more stock",
            code="coupon.illegal_transition",
            status=activity.status.value,
        )
    quantity = activity.quantity + request.add
    if activity.budget_fen is not None and quantity * activity.face_fen > activity.budget_fen:
        raise InvalidInput(
            "the money budget does not cover that many coupons",
            code="coupon.over_budget",
            most=activity.budget_fen // activity.face_fen - activity.quantity,
        )
    activity.quantity = quantity
    repo.add_stock(activity.id, request.add, activity.buckets)
    _record(
        repo,
        activity,
        actor,
        "appended",
        {"out_request_no": request.out_request_no, "add": request.add, "quantity": quantity},
    )
    return activity


def deposit_codes(
    db: Session, actor: Principal, activity_id: int, codes: list[str]
) -> CouponActivity:
    activity = get_activity(db, actor.tenant, activity_id)
    require_manager(actor)
    if activity.code_mode != CodeMode.MERCHANT_UPLOAD:
        raise InvalidInput(
            "this activity's codes are made by the platform", code="coupon.codes_not_uploaded"
        )
    if len(set(codes)) != len(codes):
        raise InvalidInput("a code is given twice", code="coupon.duplicate_code")
    repo = CouponRepository(db, actor.tenant)
    repo.add_codes(activity.id, codes)
    _record(repo, activity, actor, "codes_deposited", {"count": len(codes)})
    return activity


def expire_activities(db: Session, now: datetime | None = None) -> int:
    """Activities whose claim window ended: expired, recorded, announced."""
    now = now or utcnow()
    repo = CouponRepository(db, PLATFORM)
    ended = repo.ended_activities(now)
    for activity in ended:
        before = activity.status
        activity.status = ActivityStatus.EXPIRED
        _record(repo, activity, SYSTEM, "expired", {"status": [before.value, "expired"]})
    return len(ended)
