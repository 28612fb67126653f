"""Coupon activities and claims (the database path).

A claim counts against the user's, the device's and the day's limits and takes one unit
of stock, each by a conditional UPDATE; any refusal raises, and the request's transaction
rolls back whatever was counted before it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, SYSTEM, Principal, PrincipalKind, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.coupons import risk
from ccare.coupons.antifraud import Strictness
from ccare.coupons.gate import ClaimGate, Limit
from ccare.coupons.models import (
    ActivityChange,
    ActivityStatus,
    CodeMode,
    Coupon,
    CouponActivity,
    CouponSettings,
)
from ccare.coupons.repository import CouponRepository
from ccare.coupons.schemas import (
    ActivityChanged,
    ActivityChangeRequest,
    ActivityCreate,
    ActivityOut,
    AppendQuantity,
    ClaimRequest,
    CouponClaimed,
    StockExhausted,
    ValiditySpec,
)
from ccare.coupons.validity import Validity, usable_period
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


def _require_manager(actor: Principal) -> None:
    if actor.kind == PrincipalKind.CONSUMER or not actor.can_manage():
        raise Forbidden("owners and managers only", code="staff.role_forbidden")


def merchant_for(actor: Principal, requested: int | None) -> int:
    """The merchant a call is about: the one named, or the caller's own."""
    return _merchant_of(actor, requested)


def _merchant_of(actor: Principal, requested: int | None) -> int:
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
    merchant = merchants.get_merchant(db, actor.tenant, _merchant_of(actor, data.merchant_id))
    _require_manager(actor)
    repo = CouponRepository(db, actor.tenant)
    request = data.model_dump(mode="json", exclude={"merchant_id"})
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
    return [_out(a, left.get(a.id, 0)) for a in activities]


def activity_out(db: Session, tenant: Tenant, activity: CouponActivity) -> ActivityOut:
    left = CouponRepository(db, tenant).remaining([activity.id]).get(activity.id, 0)
    return _out(activity, left)


def _out(activity: CouponActivity, remaining: int) -> ActivityOut:
    out = ActivityOut.model_validate(activity)
    return out.model_copy(update={"remaining": remaining, "issued": activity.quantity - remaining})


def history(db: Session, tenant: Tenant, activity_id: int) -> list[ActivityChange]:
    get_activity(db, tenant, activity_id)
    return CouponRepository(db, tenant).changes(activity_id)


def set_status(
    db: Session, actor: Principal, activity_id: int, status: ActivityStatus
) -> CouponActivity:
    activity = get_activity(db, actor.tenant, activity_id)
    _require_manager(actor)
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
    _require_manager(actor)
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
    _require_manager(actor)
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
    _require_manager(actor)
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


# --- claims -----------------------------------------------------------------------------


def claim(
    db: Session,
    consumer: Principal,
    activity_id: int,
    request: ClaimRequest,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    gate: ClaimGate | None = None,
) -> Coupon:
    """A consumer takes a coupon (their own claim, on a channel), screened by the
    anti-cheating filter first. With a `gate` (production mode), Redis answers the crowd
    and only admitted claims reach the database."""
    if consumer.kind != PrincipalKind.CONSUMER:
        raise Forbidden("consumers claim coupons; merchants send them", code="auth.consumer_only")
    activity = get_activity(db, PLATFORM, activity_id)
    existing = CouponRepository(db).coupon_by_claim_key(
        activity.id, f"{consumer.id}:{request.claim_key}"
    )
    if existing is not None:
        return existing
    now = now or utcnow()
    _check_open(activity, now)
    decision = risk.screen(db, activity, consumer.id, request.device_id, ip, now)
    coupon = _issue(db, activity, consumer.id, request, now, gate)
    decision.coupon_id = coupon.id
    return coupon


def strictness(db: Session, tenant: Tenant, merchant_id: int) -> CouponSettings:
    merchants.get_merchant(db, tenant, merchant_id)
    repo = CouponRepository(db, tenant)
    return repo.settings(merchant_id) or CouponSettings(
        merchant_id=merchant_id, strictness=risk.DEFAULT_STRICTNESS
    )


def set_strictness(
    db: Session, actor: Principal, merchant_id: int | None, level: Strictness
) -> CouponSettings:
    merchant = merchants.get_merchant(db, actor.tenant, _merchant_of(actor, merchant_id))
    _require_manager(actor)
    repo = CouponRepository(db, actor.tenant)
    settings = repo.settings(merchant.id)
    if settings is None:
        settings = CouponSettings(merchant_id=merchant.id, strictness=level)
        repo.add(settings)
    settings.strictness = level
    return settings


def send(
    db: Session,
    actor: Principal,
    activity_id: int,
    consumer_id: int,
    request: ClaimRequest,
    *,
    gate: ClaimGate | None = None,
) -> Coupon:
    """The merchant (or its app) gives a coupon to a user."""
    activity = get_activity(db, actor.tenant, activity_id)
    _require_manager(actor)
    return _issue(db, activity, consumer_id, request, gate=gate)


def _periods(now: datetime) -> dict[str, str]:
    local = now.astimezone(LOCAL)
    year, week, _ = local.isocalendar()
    return {
        "lifetime": "life",
        "day": f"d:{local:%Y-%m-%d}",
        "week": f"w:{year}-W{week:02d}",
        "month": f"m:{local:%Y-%m}",
    }


def _issue(
    db: Session,
    activity: CouponActivity,
    consumer_id: int,
    request: ClaimRequest,
    now: datetime | None = None,
    gate: ClaimGate | None = None,
) -> Coupon:
    repo = CouponRepository(db, PLATFORM)
    claim_key = f"{consumer_id}:{request.claim_key}"
    existing = repo.coupon_by_claim_key(activity.id, claim_key)
    if existing is not None:
        return existing
    now = now or utcnow()
    _check_open(activity, now)
    periods = _periods(now)
    if gate is not None:
        _admit(db, gate, activity, consumer_id, request.device_id, periods)
    for period, limit in activity.user_limits.items():
        if not repo.bump_counter(activity.id, f"user:{consumer_id}", periods[period], limit):
            raise _user_limit_reached(period, limit)
    device = f"device:{request.device_id}"
    if (
        activity.device_limit is not None
        and request.device_id is not None
        and not repo.bump_counter(activity.id, device, "life", activity.device_limit)
    ):
        raise _device_limit_reached(activity.device_limit)
    if activity.daily_cap is not None and not repo.bump_counter(
        activity.id, "activity", periods["day"], activity.daily_cap
    ):
        raise _daily_cap_reached(activity.daily_cap)
    left = repo.take_stock(activity.id, secrets.randbelow(activity.buckets), activity.buckets)
    if left is None:
        if gate is not None:
            gate.sold_out(db, activity.id)  # Redis had drifted above the truth
        raise Conflict("no coupons left", code="coupon.stock_exhausted")
    valid_from, valid_until = usable_period(validity_of(ValiditySpec(**activity.validity)), now)
    coupon = Coupon(
        activity_id=activity.id,
        merchant_id=activity.merchant_id,
        consumer_id=consumer_id,
        code="",
        claim_key=claim_key,
        channel=request.channel,
        device_id=request.device_id,
        claimed_at=now,
        valid_from=valid_from.astimezone(UTC),
        valid_until=valid_until.astimezone(UTC),
    )
    if activity.code_mode == CodeMode.MERCHANT_UPLOAD:
        code = repo.free_code(activity.id)
        if code is None:
            raise Conflict("the merchant's codes are all given", code="coupon.codes_exhausted")
        coupon.code = code.code
        repo.add(coupon)
        code.coupon_id = coupon.id
    else:
        coupon.code = "".join(secrets.choice("0123456789") for _ in range(16))
        repo.add(coupon)
    emit(
        db,
        CouponClaimed(
            merchant_id=activity.merchant_id,
            consumer_id=consumer_id,
            activity_id=activity.id,
            coupon_id=coupon.id,
            code=coupon.code,
            channel=request.channel.value,
        ),
    )
    if left == 0 and repo.remaining([activity.id]).get(activity.id, 0) == 0:
        emit(
            db,
            StockExhausted(
                merchant_id=activity.merchant_id,
                activity_id=activity.id,
                out_biz_no=activity.out_biz_no,
            ),
        )
    return coupon


def _admit(
    db: Session,
    gate: ClaimGate,
    activity: CouponActivity,
    consumer_id: int,
    device_id: str | None,
    periods: dict[str, str],
) -> None:
    """The same stock and limits as the database path, counted in Redis first; each
    counter loads from the database's own count when Redis does not have it."""
    repo = CouponRepository(db)

    def limit(subject: str, period: str, most: int, refusal: Conflict) -> Limit:
        return Limit(
            f"{subject}:{period}", most, lambda: repo.counter(activity.id, subject, period), refusal
        )

    limits = [
        limit(f"user:{consumer_id}", periods[p], most, _user_limit_reached(p, most))
        for p, most in activity.user_limits.items()
    ]
    if activity.device_limit is not None and device_id is not None:
        limits.append(
            limit(
                f"device:{device_id}",
                "life",
                activity.device_limit,
                _device_limit_reached(activity.device_limit),
            )
        )
    if activity.daily_cap is not None:
        limits.append(
            limit(
                "activity",
                periods["day"],
                activity.daily_cap,
                _daily_cap_reached(activity.daily_cap),
            )
        )
    gate.admit(db, activity.id, lambda: repo.remaining([activity.id]).get(activity.id, 0), limits)


def _user_limit_reached(period: str, limit: int) -> Conflict:
    return Conflict(
        f"you have all the coupons of this activity you may have ({period})",
        code="coupon.user_limit_reached",
        period=period,
        limit=limit,
    )


def _device_limit_reached(limit: int) -> Conflict:
    return Conflict(
        "this device has all the coupons of this activity it may have",
        code="coupon.device_limit_reached",
        limit=limit,
    )


def _daily_cap_reached(limit: int) -> Conflict:
    return Conflict(
        "today's coupons are all given; come back tomorrow",
        code="coupon.daily_cap_reached",
        limit=limit,
    )


def _check_open(activity: CouponActivity, now: datetime) -> None:
    if activity.status != ActivityStatus.ACTIVE:
        raise Conflict(
            f"this activity is {activity.status.value}",
            code="coupon.activity_not_active",
            status=activity.status.value,
        )
    if now < as_utc(activity.claim_begin):
        raise Conflict("coupons are not given out yet", code="coupon.claim_not_started")
    if now >= as_utc(activity.claim_end):
        raise Conflict("coupons are no longer given out", code="coupon.claim_ended")


def my_coupons(db: Session, consumer: Principal) -> list[Coupon]:
    return CouponRepository(db, PLATFORM).coupons(consumer_id=consumer.id)


def activity_coupons(db: Session, tenant: Tenant, activity_id: int) -> list[Coupon]:
    get_activity(db, tenant, activity_id)
    return CouponRepository(db, tenant).coupons(activity_id=activity_id)


def claims_by_channel(db: Session, tenant: Tenant, activity_id: int) -> dict[str, int]:
    """Coupons issued by the activity per channel, every channel present (zero if none)."""
    from ccare.coupons.models import Channel

    get_activity(db, tenant, activity_id)
    counts = CouponRepository(db, tenant).claims_by_channel(activity_id)
    return {c.value: counts.get(c.value, 0) for c in Channel}


def claimable_activities(
    db: Session, consumer_id: int, merchant_id: int, now: datetime | None = None
) -> list[ActivityOut]:
    """A merchant's activities (newest first) a consumer could claim now: active, within
    their claim window, with stock left, under the consumer's limits and today's cap. The
    device limit and the anti-cheating filter are only known at the claim itself."""
    now = now or utcnow()
    repo = CouponRepository(db, PLATFORM)
    periods = _periods(now)
    open_now = [
        a
        for a in repo.activities(merchant_id)
        if a.status == ActivityStatus.ACTIVE and as_utc(a.claim_begin) <= now < as_utc(a.claim_end)
    ]
    left = repo.remaining([a.id for a in open_now])
    found: list[ActivityOut] = []
    for activity in open_now:
        if left.get(activity.id, 0) <= 0:
            continue
        user = f"user:{consumer_id}"
        if any(
            repo.counter(activity.id, user, periods[period]) >= most
            for period, most in activity.user_limits.items()
        ):
            continue
        cap = activity.daily_cap
        if cap is not None and repo.counter(activity.id, "activity", periods["day"]) >= cap:
            continue
        found.append(_out(activity, left[activity.id]))
    return found


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
