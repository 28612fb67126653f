"""繁星 points: the balance and ledger people read, redemption of points as free exposure
for one of the merchant's ad groups, and the two calls the ad server makes to serve it.

Earning happens in the worker (`earning.py`, reacting to visits and favorites).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, Principal, Tenant
from ccare.core.time import local_date, utcnow
from ccare.merchants import service as merchants
from ccare.promotion import service as promotion
from ccare.star_points import rules
from ccare.star_points.models import StarPointEntry, StarPointGrant
from ccare.star_points.repository import StarPointsRepository
from ccare.star_points.schemas import (
    BalanceOut,
    EntryOut,
    GrantOut,
    RedemptionCreate,
    RuleOut,
    RuleTable,
    StarPointsRedeemed,
)

MIN_POINTS = 1
MAX_POINTS = 1_000_000
ENDED = "ended"  # the promotion product's final status of a plan or group


class InsufficientPoints(Conflict):
    code = "star_points.insufficient"


@dataclass(frozen=True)
class GrantView:
    """A grant the ad server may still serve free impressions from."""

    grant_id: int
    merchant_id: int
    group_id: int
    remaining: int


def merchant_for(db: Session, actor: Principal, requested: int | None) -> int:
    return merchants.merchant_for(db, actor, requested, code="star_points.merchant_required")


def rule_table() -> RuleTable:
    return RuleTable(
        pv_per_uv=rules.PV_PER_UV,
        own_channels=sorted(rules.OWN_CHANNELS),
        repeat_window_days=rules.REPEAT_WINDOW_DAYS,
        rules=[
            RuleOut(
                key=r.key,
                name=r.name,
                description=r.description,
                points=r.points,
                daily_cap=r.daily_cap,
                daily_cap_points=r.daily_cap_points,
            )
            for r in rules.RULES
        ],
    )


# --- balance and ledger -------------------------------------------------------------


def balance(db: Session, actor: Principal, merchant_id: int | None) -> BalanceOut:
    """The merchant's points; zero before it earned any."""
    mid = merchant_for(db, actor, merchant_id)
    account = StarPointsRepository(db, actor.tenant).account(mid)
    if account is None:
        return BalanceOut(merchant_id=mid, balance=0, earned_total=0, redeemed_total=0)
    return BalanceOut.model_validate(account)


def entries(
    db: Session, actor: Principal, merchant_id: int | None, *, limit: int, offset: int = 0
) -> list[StarPointEntry]:
    mid = merchant_for(db, actor, merchant_id)
    return StarPointsRepository(db, actor.tenant).entries(mid, limit, offset)


def today_counts(db: Session, actor: Principal, now: datetime | None = None) -> dict[str, int]:
    """Earnings of each rule today (local day), for the cap gauges."""
    mid = merchant_for(db, actor, None)
    rows = StarPointsRepository(db, actor.tenant).daily_counts(mid, local_date(now or utcnow()))
    return {r.rule: r.earned for r in rows}


# --- redemption ---------------------------------------------------------------------


def _check_points(points: int) -> None:
    if not MIN_POINTS <= points <= MAX_POINTS:
        raise InvalidInput(
            f"redeem between {MIN_POINTS:,} and {MAX_POINTS:,} points",
            code="star_points.invalid_points",
            points=points,
        )


def _check_group(db: Session, tenant: Tenant, merchant_id: int, group_id: int) -> None:
    """The ad group is the merchant's own, and neither it nor its plan has ended."""
    group = promotion.get_group(db, tenant, group_id)
    if group.merchant_id != merchant_id:
        raise NotFound("no such ad group", code="promotion.group_not_found")
    plan = promotion.get_plan(db, tenant, group.plan_id)
    if ENDED in (str(group.status), str(plan.status)):
        raise IllegalTransition(
            "the ad group or its plan has ended", code="star_points.group_ended"
        )


def redeem(
    db: Session, actor: Principal, data: RedemptionCreate, now: datetime | None = None
) -> tuple[StarPointGrant, bool]:
    """Spend points on free impressions for an ad group (1 point = 1 impression). The same
    out_request_no with the same content returns the first grant (created = False)."""
    merchants.require_manager(actor)
    mid = merchant_for(db, actor, data.merchant_id)
    repo = StarPointsRepository(db, actor.tenant)
    earlier = repo.grant_by_request_no(mid, data.out_request_no)
    if earlier is not None:
        if (earlier.group_id, earlier.points) != (data.ad_group_id, data.points):
            raise Conflict(
                "out_request_no was used for another redemption",
                code="star_points.request_conflict",
            )
        return earlier, False
    _check_points(data.points)
    _check_group(db, actor.tenant, mid, data.ad_group_id)
    if not repo.apply(mid, -data.points):
        raise InsufficientPoints(
            "not enough points", code="star_points.insufficient", points=data.points
        )
    now = now or utcnow()
    grant = StarPointGrant(
        merchant_id=mid,
        group_id=data.ad_group_id,
        out_request_no=data.out_request_no,
        points=data.points,
        impressions_total=data.points,
        impressions_used=0,
        created_at=now,
    )
    repo.add(grant)
    repo.add(
        StarPointEntry(
            merchant_id=mid,
            rule=rules.REDEEM,
            points=-data.points,
            reference=f"redeem:{grant.id}",
            grant_id=grant.id,
            day=local_date(now),
            created_at=now,
        )
    )
    emit(
        db,
        StarPointsRedeemed(
            merchant_id=mid,
            grant_id=grant.id,
            group_id=grant.group_id,
            points=grant.points,
            impressions=grant.impressions_total,
            occurred_at=now,
        ),
    )
    return grant, True


def get_grant(db: Session, tenant: Tenant, grant_id: int) -> StarPointGrant:
    grant = StarPointsRepository(db, tenant).grant(grant_id)
    if grant is None:
        raise NotFound("no such grant", code="star_points.grant_not_found")
    return grant


def list_grants(db: Session, actor: Principal, merchant_id: int | None) -> list[StarPointGrant]:
    mid = merchant_for(db, actor, merchant_id)
    return StarPointsRepository(db, actor.tenant).grants(mid)


# --- the ad server's side -----------------------------------------------------------


def open_grants(db: Session) -> list[GrantView]:
    """Every active grant with impressions left, oldest first."""
    return [
        GrantView(g.id, g.merchant_id, g.group_id, g.impressions_total - g.impressions_used)
        for g in StarPointsRepository(db, PLATFORM).open_grants()
    ]


def use_free_impression(db: Session, grant_id: int) -> bool:
    """Take one free impression of the grant; False when none is left (or no such grant)."""
    return StarPointsRepository(db, PLATFORM).use_impression(grant_id, utcnow())


# --- output -------------------------------------------------------------------------


def entry_out(entry: StarPointEntry) -> EntryOut:
    return EntryOut.model_validate(entry)


def grant_out(grant: StarPointGrant) -> GrantOut:
    return GrantOut(
        id=grant.id,
        merchant_id=grant.merchant_id,
        group_id=grant.group_id,
        out_request_no=grant.out_request_no,
        points=grant.points,
        impressions_total=grant.impressions_total,
        impressions_used=grant.impressions_used,
        impressions_left=grant.impressions_total - grant.impressions_used,
        status=grant.status,
        created_at=grant.created_at,
        exhausted_at=grant.exhausted_at,
    )
