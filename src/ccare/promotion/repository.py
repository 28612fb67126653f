"""Every query of the promotion platform; tenant rows only through `scoped()`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.promotion.models import (
    AdClick,
    AdConversion,
    AdCreative,
    AdGroup,
    AdImpression,
    AdModelState,
    AdPlan,
    AdPlanDay,
    AdPlanTotal,
    AdStatus,
    ClickStatus,
    ReservedTerm,
    ReviewStatus,
)


def insert_once(db: Session, row: object) -> bool:
    """Add `row` in a savepoint; False when a unique key says it was written before."""
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        return False
    return True


class PromotionRepository:
    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    def plan(self, plan_id: int) -> AdPlan | None:
        stmt = select(AdPlan).where(AdPlan.id == plan_id)
        return self.db.scalars(scoped(stmt, AdPlan.merchant_id, self.tenant)).first()

    def plan_by_request_no(self, merchant_id: int, out_request_no: str) -> AdPlan | None:
        stmt = select(AdPlan).where(
            AdPlan.merchant_id == merchant_id, AdPlan.out_request_no == out_request_no
        )
        return self.db.scalars(scoped(stmt, AdPlan.merchant_id, self.tenant)).first()

    def plans(self, merchant_id: int | None = None) -> list[AdPlan]:
        stmt = select(AdPlan).order_by(AdPlan.id.desc())
        if merchant_id is not None:
            stmt = stmt.where(AdPlan.merchant_id == merchant_id)
        return list(self.db.scalars(scoped(stmt, AdPlan.merchant_id, self.tenant)))

    def group(self, group_id: int) -> AdGroup | None:
        stmt = select(AdGroup).where(AdGroup.id == group_id)
        return self.db.scalars(scoped(stmt, AdGroup.merchant_id, self.tenant)).first()

    def groups(self, plan_id: int) -> list[AdGroup]:
        stmt = select(AdGroup).where(AdGroup.plan_id == plan_id).order_by(AdGroup.id)
        return list(self.db.scalars(scoped(stmt, AdGroup.merchant_id, self.tenant)))

    def creative(self, creative_id: int) -> AdCreative | None:
        stmt = select(AdCreative).where(AdCreative.id == creative_id)
        return self.db.scalars(scoped(stmt, AdCreative.merchant_id, self.tenant)).first()

    def creatives(
        self, group_id: int | None = None, review_status: ReviewStatus | None = None
    ) -> list[AdCreative]:
        stmt = select(AdCreative).order_by(AdCreative.id)
        if group_id is not None:
            stmt = stmt.where(AdCreative.group_id == group_id)
        if review_status is not None:
            stmt = stmt.where(AdCreative.review_status == review_status)
        return list(self.db.scalars(scoped(stmt, AdCreative.merchant_id, self.tenant)))


class SpendRepository:
    """The budget counters. Platform-level: billing is reached only through a verified
    token, never by a tenant naming a plan."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def _insert(self) -> Any:
        postgres = self.db.get_bind().dialect.name == "postgresql"
        return pg_insert if postgres else sqlite_insert

    def add_daily(self, plan_id: int, merchant_id: int, day: date, cost: int, limit: int) -> bool:
        self.db.execute(
            self._insert()(AdPlanDay)
            .values(plan_id=plan_id, day=day, merchant_id=merchant_id, spent_millifen=0)
            .on_conflict_do_nothing(index_elements=["plan_id", "day"])
        )
        stmt = (
            update(AdPlanDay)
            .where(
                AdPlanDay.plan_id == plan_id,
                AdPlanDay.day == day,
                AdPlanDay.spent_millifen + cost <= limit,
            )
            .values(spent_millifen=AdPlanDay.spent_millifen + cost)
            .execution_options(synchronize_session=False)
        )
        return bool(self.db.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def add_total(self, plan_id: int, merchant_id: int, cost: int, limit: int | None) -> int | None:
        """Raise the life-time spend; the whole fen it newly owes, or None past `limit`."""
        self.db.execute(
            self._insert()(AdPlanTotal)
            .values(plan_id=plan_id, merchant_id=merchant_id, spent_millifen=0, billed_fen=0)
            .on_conflict_do_nothing(index_elements=["plan_id"])
        )
        stmt = (
            update(AdPlanTotal)
            .where(AdPlanTotal.plan_id == plan_id)
            .values(spent_millifen=AdPlanTotal.spent_millifen + cost)
            .returning(AdPlanTotal.spent_millifen, AdPlanTotal.billed_fen)
            .execution_options(synchronize_session=False)
        )
        if limit is not None:
            stmt = stmt.where(AdPlanTotal.spent_millifen + cost <= limit)
        row = self.db.execute(stmt).first()
        if row is None:
            return None
        spent, billed = int(row[0]), int(row[1])
        return spent // 1000 - billed

    def mark_billed(self, plan_id: int, fen: int) -> None:
        self.db.execute(
            update(AdPlanTotal)
            .where(AdPlanTotal.plan_id == plan_id)
            .values(billed_fen=AdPlanTotal.billed_fen + fen)
            .execution_options(synchronize_session=False)
        )

    def spent_on(self, day: date) -> dict[int, int]:
        stmt = select(AdPlanDay.plan_id, AdPlanDay.spent_millifen).where(AdPlanDay.day == day)
        return {int(p): int(s) for p, s in self.db.execute(stmt)}

    def spent_totals(self) -> dict[int, int]:
        stmt = select(AdPlanTotal.plan_id, AdPlanTotal.spent_millifen)
        return {int(p): int(s) for p, s in self.db.execute(stmt)}

    def plan_spend(self, plan_id: int, day: date) -> tuple[int, int]:
        """(spent today, spent in all) in milli-fen."""
        today = self.db.scalar(
            select(AdPlanDay.spent_millifen).where(
                AdPlanDay.plan_id == plan_id, AdPlanDay.day == day
            )
        )
        total = self.db.scalar(
            select(AdPlanTotal.spent_millifen).where(AdPlanTotal.plan_id == plan_id)
        )
        return int(today or 0), int(total or 0)


class ReservedTermRepository:
    """Brand direct-zone terms: platform-wide, written by the operator only."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def all(self) -> list[ReservedTerm]:
        return list(self.db.scalars(select(ReservedTerm).order_by(ReservedTerm.term)))

    def get(self, term_id: int) -> ReservedTerm | None:
        return self.db.get(ReservedTerm, term_id)

    def by_term(self, term: str) -> ReservedTerm | None:
        return self.db.scalars(select(ReservedTerm).where(ReservedTerm.term == term)).first()

    def add(self, row: ReservedTerm) -> bool:
        """False when the term was reserved meanwhile (its unique key)."""
        return insert_once(self.db, row)

    def delete(self, row: ReservedTerm) -> None:
        self.db.delete(row)
        self.db.flush()


class ServingRepository:
    """What the ad server reads and the tracking endpoints write; platform-level, reached
    only through verified tokens and the serving index."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def servable(self) -> list[tuple[AdPlan, AdGroup, AdCreative]]:
        stmt = (
            select(AdPlan, AdGroup, AdCreative)
            .join(AdGroup, AdGroup.plan_id == AdPlan.id)
            .join(AdCreative, AdCreative.group_id == AdGroup.id)
            .where(
                AdPlan.status == AdStatus.ACTIVE,
                AdGroup.status == AdStatus.ACTIVE,
                AdCreative.status == AdStatus.ACTIVE,
                AdCreative.review_status == ReviewStatus.APPROVED,
            )
            .order_by(AdGroup.id, AdCreative.id)
        )
        return [(p, g, c) for p, g, c in self.db.execute(stmt)]

    def group_ctr_counts(self, since: datetime) -> dict[int, tuple[int, int]]:
        """group -> (impressions, clicks) since `since`."""
        shown = (
            select(AdImpression.group_id, func.count())
            .where(AdImpression.created_at >= since, AdImpression.group_id.is_not(None))
            .group_by(AdImpression.group_id)
        )
        clicked = (
            select(AdClick.group_id, func.count())
            .where(AdClick.created_at >= since, AdClick.group_id.is_not(None))
            .group_by(AdClick.group_id)
        )
        clicks = {g: int(n) for g, n in self.db.execute(clicked) if g is not None}
        return {g: (int(n), clicks.get(g, 0)) for g, n in self.db.execute(shown) if g is not None}

    def impressions_today(self, consumer_id: int, since: datetime) -> dict[int, int]:
        stmt = (
            select(AdImpression.group_id, func.count())
            .where(
                AdImpression.consumer_id == consumer_id,
                AdImpression.created_at >= since,
                AdImpression.group_id.is_not(None),
            )
            .group_by(AdImpression.group_id)
        )
        return {g: int(n) for g, n in self.db.execute(stmt) if g is not None}

    def converted_plans(self, consumer_id: int) -> frozenset[int]:
        stmt = select(AdConversion.plan_id).where(
            AdConversion.consumer_id == consumer_id, AdConversion.plan_id.is_not(None)
        )
        return frozenset(p for p in self.db.scalars(stmt.distinct()) if p is not None)

    def model(self, kind: str) -> AdModelState | None:
        return self.db.scalars(select(AdModelState).where(AdModelState.kind == kind)).first()

    def model_version(self, kind: str) -> datetime | None:
        return self.db.scalar(select(AdModelState.updated_at).where(AdModelState.kind == kind))

    # -- tracking ---------------------------------------------------------------------------
    def insert_impression(self, impression: AdImpression) -> bool:
        """False when (decision, slot) was recorded before: a replayed token."""
        return insert_once(self.db, impression)

    def impression(self, decision_id: str, slot: int) -> AdImpression | None:
        stmt = select(AdImpression).where(
            AdImpression.decision_id == decision_id, AdImpression.slot == slot
        )
        return self.db.scalars(stmt).first()

    def insert_click(self, click: AdClick) -> bool:
        return insert_once(self.db, click)

    def recent_clicks(
        self, since: datetime, *, consumer_id: int | None = None, ip: str | None = None
    ) -> int:
        stmt = select(func.count()).select_from(AdClick).where(AdClick.created_at >= since)
        if consumer_id is not None:
            stmt = stmt.where(AdClick.consumer_id == consumer_id)
        if ip is not None:
            stmt = stmt.where(AdClick.ip == ip)
        return int(self.db.scalar(stmt) or 0)

    def last_click(
        self, consumer_id: int, merchant_id: int, since: datetime, until: datetime
    ) -> AdClick | None:
        """The consumer's latest countable click on the merchant's ads in [since, until]."""
        stmt = (
            select(AdClick)
            .where(
                AdClick.consumer_id == consumer_id,
                AdClick.merchant_id == merchant_id,
                AdClick.created_at >= since,
                AdClick.created_at <= until,
                AdClick.status != ClickStatus.INVALID,
            )
            .order_by(AdClick.created_at.desc(), AdClick.id.desc())
            .limit(1)
        )
        return self.db.scalars(stmt).first()

    def click(self, click_id: int) -> AdClick | None:
        return self.db.get(AdClick, click_id)

    def conversion(self, merchant_id: int, out_conversion_no: str) -> AdConversion | None:
        stmt = select(AdConversion).where(
            AdConversion.merchant_id == merchant_id,
            AdConversion.out_conversion_no == out_conversion_no,
        )
        return self.db.scalars(stmt).first()

    def insert_conversion(self, conversion: AdConversion) -> bool:
        return insert_once(self.db, conversion)

    # -- learning ---------------------------------------------------------------------------
    def impressions_to_learn(
        self, after_id: int, before: datetime, limit: int
    ) -> list[AdImpression]:
        stmt = (
            select(AdImpression)
            .where(
                AdImpression.id > after_id,
                AdImpression.created_at < before,
                AdImpression.group_id.is_not(None),
            )
            .order_by(AdImpression.id)
            .limit(limit)
        )
        return list(self.db.scalars(stmt))

    def clicked(self, impression_ids: list[int]) -> set[int]:
        stmt = select(AdClick.impression_id).where(
            AdClick.impression_id.in_(impression_ids), AdClick.status != ClickStatus.INVALID
        )
        return set(self.db.scalars(stmt))

    def clicks_to_learn(
        self, after_id: int, before: datetime, limit: int
    ) -> list[tuple[AdClick, AdImpression]]:
        stmt = (
            select(AdClick, AdImpression)
            .join(AdImpression, AdImpression.id == AdClick.impression_id)
            .where(
                AdClick.id > after_id,
                AdClick.created_at < before,
                AdClick.status != ClickStatus.INVALID,
                AdClick.group_id.is_not(None),
            )
            .order_by(AdClick.id)
            .limit(limit)
        )
        return [(c, i) for c, i in self.db.execute(stmt)]

    def converted(self, click_ids: list[int]) -> set[int]:
        stmt = select(AdConversion.click_id).where(AdConversion.click_id.in_(click_ids))
        return set(self.db.scalars(stmt))

    def save_model(
        self, kind: str, blob: bytes, until_id: int, examples: int, now: datetime
    ) -> None:
        state = self.model(kind)
        if state is None:
            self.db.add(
                AdModelState(
                    kind=kind,
                    blob=blob,
                    learned_until_id=until_id,
                    examples=examples,
                    updated_at=now,
                )
            )
        else:
            state.blob = blob
            state.learned_until_id = until_id
            state.examples += examples
            state.updated_at = now
        self.db.flush()


class ReviewQueueRepository:
    """The operator's review queue: pending creatives of every merchant the tenant covers,
    oldest first, with the names of their ad group and plan."""

    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    def pending(self, limit: int, offset: int = 0) -> list[tuple[AdCreative, str, str]]:
        stmt = (
            select(AdCreative)
            .join(AdGroup, AdGroup.id == AdCreative.group_id)
            .join(AdPlan, AdPlan.id == AdGroup.plan_id)
            .where(AdCreative.review_status == ReviewStatus.PENDING)
            .order_by(AdCreative.id)
            .limit(limit)
            .offset(offset)
        )
        mine = scoped(stmt, AdCreative.merchant_id, self.tenant)
        rows = self.db.execute(mine.add_columns(AdGroup.name, AdPlan.name))
        return [(creative, group, plan) for creative, group, plan in rows]

    def pending_count(self) -> int:
        stmt = select(func.count(AdCreative.id)).where(
            AdCreative.review_status == ReviewStatus.PENDING
        )
        return int(self.db.scalar(scoped(stmt, AdCreative.merchant_id, self.tenant)) or 0)
