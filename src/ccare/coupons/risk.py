"""Screening a consumer's claim with the anti-cheating filter (docs/adr/0010).

The features come from the platform's own records, as they stand at the claim: coupons
claimed on the device, earlier decisions from the same IP, the account's age and its
claim-and-use habit, the platform's blacklist. Travel speed and the redeeming accounts a
claimer feeds need data ccare does not collect yet (claim locations, transfers of codes)
and are left at their neutral values. The decision and its explanation are stored for
every screened claim; a blocked one is refused with `RecordedRefusal`, so the record
survives the refusal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ccare.core.errors import Forbidden, NotFound, RecordedRefusal
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import as_utc
from ccare.coupons import service
from ccare.coupons.antifraud import ClaimFeatures, Decision, Outcome, Strictness, decide
from ccare.coupons.models import (
    BlacklistEntry,
    BlacklistKind,
    ClaimDecision,
    CouponActivity,
    CouponSettings,
)
from ccare.coupons.repository import CouponRepository
from ccare.coupons.schemas import BlacklistIn, DecisionOut, OutcomeTotal, RiskReport
from ccare.merchants import service as merchants

DEVICE_LOOKBACK = timedelta(days=7)  # as the published rule (antifraud.RULES) says
IP_LOOKBACK = timedelta(hours=1)
HABIT_LOOKBACK = timedelta(days=30)
DEFAULT_STRICTNESS = Strictness.STANDARD


def strictness_of(repo: CouponRepository, merchant_id: int) -> Strictness:
    settings = repo.settings(merchant_id)
    return settings.strictness if settings is not None else DEFAULT_STRICTNESS


def strictness(db: Session, tenant: Tenant, merchant_id: int) -> CouponSettings:
    merchants.get_merchant(db, tenant, merchant_id)
    repo = CouponRepository(db, tenant)
    return repo.settings(merchant_id) or CouponSettings(
        merchant_id=merchant_id, strictness=DEFAULT_STRICTNESS
    )


def set_strictness(
    db: Session, actor: Principal, merchant_id: int | None, level: Strictness
) -> CouponSettings:
    merchant = merchants.get_merchant(db, actor.tenant, service.merchant_for(actor, merchant_id))
    service.require_manager(actor)
    repo = CouponRepository(db, actor.tenant)
    settings = repo.settings(merchant.id)
    if settings is None:
        settings = CouponSettings(merchant_id=merchant.id, strictness=level)
        repo.add(settings)
    settings.strictness = level
    return settings


def features(
    db: Session, consumer_id: int, device_id: str | None, ip: str | None, now: datetime
) -> ClaimFeatures:
    from ccare.consumers import service as consumers

    repo = CouponRepository(db)
    try:
        consumer = consumers.get_consumer(db, consumer_id)
        age_days = max(0.0, (now - as_utc(consumer.created_at)).total_seconds() / 86_400)
        real_name = bool(consumer.phone)
    except NotFound:
        age_days, real_name = 0.0, False
    on_device = repo.accounts_on_device(device_id, now - DEVICE_LOOKBACK) if device_id else set()
    claims, uses = repo.claims_and_uses(consumer_id, now - HABIT_LOOKBACK)
    listed = repo.blacklisted(
        [
            (BlacklistKind.DEVICE, device_id or ""),
            (BlacklistKind.ACCOUNT, str(consumer_id)),
            (BlacklistKind.IP, ip or ""),
        ]
    )
    return ClaimFeatures(
        account_age_days=round(age_days, 3),
        accounts_on_device=len(on_device | {consumer_id}) if device_id else 1,
        claims_from_ip_last_hour=repo.claims_from_ip(ip, now - IP_LOOKBACK) if ip else 0,
        claims_last_30d=claims,
        uses_last_30d=uses,
        device_blacklisted=BlacklistKind.DEVICE in listed,
        account_blacklisted=BlacklistKind.ACCOUNT in listed,
        ip_blacklisted=BlacklistKind.IP in listed,
        has_real_name=real_name,
    )


def screen(
    db: Session,
    activity: CouponActivity,
    consumer_id: int,
    device_id: str | None,
    ip: str | None,
    now: datetime,
) -> ClaimDecision:
    """Decide on a claim. A blocked claim is recorded and refused; a passed one returns its
    decision for the caller to store with the coupon it gives."""
    repo = CouponRepository(db)
    decision: Decision = decide(
        features(db, consumer_id, device_id, ip, now), strictness_of(repo, activity.merchant_id)
    )
    record = ClaimDecision(
        activity_id=activity.id,
        merchant_id=activity.merchant_id,
        consumer_id=consumer_id,
        device_id=device_id,
        ip=ip,
        outcome=decision.outcome,
        score=decision.score,
        strictness=decision.strictness,
        explanation=decision.explanation(),
        face_fen=activity.face_fen,
        at=now,
    )
    if decision.outcome != Outcome.PASS:
        repo.add(record)
        verb = "rejected" if decision.outcome == Outcome.REJECT else "needs a verification"
        raise RecordedRefusal(
            f"this claim {verb}: the platform's risk checks flagged it",
            code=f"coupon.claim_{decision.outcome.value}",
            decision_id=record.id,
            score=decision.score,
            reasons=[r.code for r in decision.reasons],
        )
    return record


def report(db: Session, tenant: Tenant, activity: CouponActivity) -> RiskReport:
    """What the filter decided on an activity's claims, and the budget it kept."""
    repo = CouponRepository(db, tenant)
    totals = repo.decision_totals(activity.id)
    blocked = repo.decisions(activity.id, blocked_only=True)
    return RiskReport(
        activity_id=activity.id,
        totals={
            o.value: OutcomeTotal(
                claims=totals.get(o.value, (0, 0))[0], face_fen=totals.get(o.value, (0, 0))[1]
            )
            for o in Outcome
        },
        budget_saved_fen=sum(
            totals.get(o.value, (0, 0))[1] for o in (Outcome.CHALLENGE, Outcome.REJECT)
        ),
        blocked=[DecisionOut.model_validate(d) for d in blocked],
    )


def add_to_blacklist(db: Session, operator: Principal, entry: BlacklistIn) -> BlacklistEntry:
    if not operator.is_operator:
        raise Forbidden("platform operators only", code="auth.operator_only")
    repo = CouponRepository(db)
    found = repo.blacklist_entry(entry.kind, entry.value)
    if found is not None:
        return found
    row = BlacklistEntry(kind=entry.kind, value=entry.value, reason=entry.reason)
    repo.add(row)
    return row


def blacklist(db: Session, operator: Principal) -> list[BlacklistEntry]:
    if not operator.is_operator:
        raise Forbidden("platform operators only", code="auth.operator_only")
    return CouponRepository(db).blacklist()
