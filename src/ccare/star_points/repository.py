"""Every query of 繁星 points; tenant rows only through `scoped()`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import case, delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.star_points.models import (
    GrantStatus,
    StarPointAccount,
    StarPointDailyCount,
    StarPointEntry,
    StarPointFavorite,
    StarPointGrant,
    StarPointVisit,
)

Account = StarPointAccount
Grant = StarPointGrant


def _changed(result: Any) -> bool:
    return int(result.rowcount or 0) > 0


class StarPointsRepository:
    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant
        self._insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    def _insert_new(self, model: Any, keys: list[str], values: dict[str, Any]) -> bool:
        """Insert unless a row with the same `keys` exists; true when this call inserted."""
        stmt = (
            self._insert(model)
            .values(**values)
            .on_conflict_do_nothing(index_elements=keys)
            .returning(getattr(model, keys[0]))
        )
        return self.db.execute(stmt).first() is not None

    # --- accounts and entries -----------------------------------------------------------

    def ensure_account(self, merchant_id: int) -> None:
        self._insert_new(
            Account,
            ["merchant_id"],
            {"merchant_id": merchant_id, "balance": 0, "earned_total": 0, "redeemed_total": 0},
        )

    def account(self, merchant_id: int) -> StarPointAccount | None:
        stmt = select(Account).where(Account.merchant_id == merchant_id)
        return self.db.scalars(scoped(stmt, Account.merchant_id, self.tenant)).first()

    def apply(self, merchant_id: int, delta: int) -> bool:
        """One conditional UPDATE that never reads the balance first, so concurrent
        redemptions cannot overdraw it; false when the balance is short (or no account)."""
        stmt = (
            update(Account)
            .where(Account.merchant_id == merchant_id, Account.balance + delta >= 0)
            .values(
                balance=Account.balance + delta,
                earned_total=Account.earned_total + max(delta, 0),
                redeemed_total=Account.redeemed_total + max(-delta, 0),
            )
            .execution_options(synchronize_session=False)
        )
        return _changed(self.db.execute(scoped(stmt, Account.merchant_id, self.tenant)))

    def entry_exists(self, reference: str) -> bool:
        stmt = select(exists().where(StarPointEntry.reference == reference))
        return bool(self.db.scalar(stmt))

    def entries(self, merchant_id: int, limit: int, offset: int = 0) -> list[StarPointEntry]:
        stmt = (
            select(StarPointEntry)
            .where(StarPointEntry.merchant_id == merchant_id)
            .order_by(StarPointEntry.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.db.scalars(scoped(stmt, StarPointEntry.merchant_id, self.tenant)))

    # --- grants ------------------------------------------------------------------------

    def grant(self, grant_id: int) -> StarPointGrant | None:
        stmt = select(Grant).where(Grant.id == grant_id)
        return self.db.scalars(scoped(stmt, Grant.merchant_id, self.tenant)).first()

    def grant_by_request_no(self, merchant_id: int, out_request_no: str) -> StarPointGrant | None:
        stmt = select(Grant).where(
            Grant.merchant_id == merchant_id, Grant.out_request_no == out_request_no
        )
        return self.db.scalars(scoped(stmt, Grant.merchant_id, self.tenant)).first()

    def grants(self, merchant_id: int, limit: int = 200) -> list[StarPointGrant]:
        stmt = (
            select(Grant)
            .where(Grant.merchant_id == merchant_id)
            .order_by(Grant.id.desc())
            .limit(limit)
        )
        return list(self.db.scalars(scoped(stmt, Grant.merchant_id, self.tenant)))

    def open_grants(self) -> list[StarPointGrant]:
        stmt = (
            select(Grant)
            .where(
                Grant.status == GrantStatus.ACTIVE,
                Grant.impressions_used < Grant.impressions_total,
            )
            .order_by(Grant.id)
        )
        return list(self.db.scalars(scoped(stmt, Grant.merchant_id, self.tenant)))

    def use_impression(self, grant_id: int, now: datetime) -> bool:
        """Take one impression by a conditional UPDATE, marking the grant exhausted by the
        same statement when it takes the last one."""
        last = Grant.impressions_used + 1 >= Grant.impressions_total
        stmt = (
            update(Grant)
            .where(
                Grant.id == grant_id,
                Grant.status == GrantStatus.ACTIVE,
                Grant.impressions_used < Grant.impressions_total,
            )
            .values(
                impressions_used=Grant.impressions_used + 1,
                status=case((last, GrantStatus.EXHAUSTED.value), else_=Grant.status),
                exhausted_at=case((last, now), else_=Grant.exhausted_at),
            )
            .execution_options(synchronize_session=False)
        )
        return _changed(self.db.execute(scoped(stmt, Grant.merchant_id, self.tenant)))

    # --- what earning needs ------------------------------------------------------------

    def first_visit_of_day(
        self, merchant_id: int, consumer_id: int, day: date, channel: str
    ) -> bool:
        row = {"merchant_id": merchant_id, "consumer_id": consumer_id, "day": day}
        return self._insert_new(
            StarPointVisit, ["merchant_id", "consumer_id", "day"], {**row, "channel": channel}
        )

    def visited_between(self, merchant_id: int, consumer_id: int, first: date, last: date) -> bool:
        stmt = select(
            exists().where(
                StarPointVisit.merchant_id == merchant_id,
                StarPointVisit.consumer_id == consumer_id,
                StarPointVisit.day >= first,
                StarPointVisit.day <= last,
            )
        )
        return bool(self.db.scalar(stmt))

    def prune_visits(self, before: date) -> int:
        stmt = delete(StarPointVisit).where(StarPointVisit.day < before)
        result: Any = self.db.execute(stmt.execution_options(synchronize_session=False))
        return int(result.rowcount or 0)

    def first_favorite(
        self, merchant_id: int, mini_program_id: int, consumer_id: int, at: datetime
    ) -> bool:
        return self._insert_new(
            StarPointFavorite,
            ["mini_program_id", "consumer_id"],
            {
                "mini_program_id": mini_program_id,
                "consumer_id": consumer_id,
                "merchant_id": merchant_id,
                "first_at": at,
            },
        )

    def take_daily(self, merchant_id: int, rule: str, day: date, cap: int) -> bool:
        """Count one earning of `rule` today if the cap allows; a refusal is counted too."""
        D = StarPointDailyCount
        self._insert_new(
            D,
            ["merchant_id", "rule", "day"],
            {"merchant_id": merchant_id, "rule": rule, "day": day, "earned": 0, "capped": 0},
        )
        key = (D.merchant_id == merchant_id, D.rule == rule, D.day == day)
        taken = self.db.execute(
            update(D)
            .where(*key, D.earned < cap)
            .values(earned=D.earned + 1)
            .execution_options(synchronize_session=False)
        )
        if _changed(taken):
            return True
        self.db.execute(
            update(D)
            .where(*key)
            .values(capped=D.capped + 1)
            .execution_options(synchronize_session=False)
        )
        return False

    def daily_counts(self, merchant_id: int, day: date) -> list[StarPointDailyCount]:
        D = StarPointDailyCount
        stmt = select(D).where(D.merchant_id == merchant_id, D.day == day)
        return list(self.db.scalars(scoped(stmt, D.merchant_id, self.tenant)))
