from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.coupons.antifraud import Outcome
from ccare.coupons.models import (
    ActivityChange,
    ActivityStatus,
    BlacklistEntry,
    BlacklistKind,
    ClaimCounter,
    ClaimDecision,
    Coupon,
    CouponActivity,
    CouponCode,
    CouponSettings,
    CouponStatus,
    StockBucket,
)


class CouponRepository:
    """Tenant rows through `scoped()`; a consumer's reads add `consumer_id` on top.

    Stock and counters change only through conditional UPDATEs (`take_stock`,
    `bump_counter`): whatever runs concurrently, a bucket never goes below zero and a
    counter never passes its limit.
    """

    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    @property
    def _postgres(self) -> bool:
        return self.db.get_bind().dialect.name == "postgresql"

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    def stage(self, obj: object) -> None:
        """Added to the transaction without a flush: written with the next one, or at commit."""
        self.db.add(obj)

    # --- activities -------------------------------------------------------------------

    def activity(self, activity_id: int) -> CouponActivity | None:
        stmt = select(CouponActivity).where(CouponActivity.id == activity_id)
        return self.db.scalars(scoped(stmt, CouponActivity.merchant_id, self.tenant)).first()

    def activity_by_out_biz_no(self, merchant_id: int, out_biz_no: str) -> CouponActivity | None:
        stmt = select(CouponActivity).where(
            CouponActivity.merchant_id == merchant_id, CouponActivity.out_biz_no == out_biz_no
        )
        return self.db.scalars(scoped(stmt, CouponActivity.merchant_id, self.tenant)).first()

    def activities(self, merchant_id: int | None = None) -> list[CouponActivity]:
        stmt = select(CouponActivity).order_by(CouponActivity.id.desc())
        if merchant_id is not None:
            stmt = stmt.where(CouponActivity.merchant_id == merchant_id)
        return list(self.db.scalars(scoped(stmt, CouponActivity.merchant_id, self.tenant)))

    def changes(self, activity_id: int) -> list[ActivityChange]:
        stmt = (
            select(ActivityChange)
            .where(ActivityChange.activity_id == activity_id)
            .order_by(ActivityChange.id)
        )
        return list(self.db.scalars(scoped(stmt, ActivityChange.merchant_id, self.tenant)))

    # --- stock ------------------------------------------------------------------------

    def create_buckets(self, activity_id: int, quantity: int, buckets: int) -> None:
        share, extra = divmod(quantity, buckets)
        self.db.add_all(
            StockBucket(activity_id=activity_id, bucket=b, remaining=share + int(b < extra))
            for b in range(buckets)
        )
        self.db.flush()

    def add_stock(self, activity_id: int, add: int, buckets: int) -> None:
        share, extra = divmod(add, buckets)
        for b in range(buckets):
            more = share + int(b < extra)
            if more:
                self.db.execute(
                    update(StockBucket)
                    .where(StockBucket.activity_id == activity_id, StockBucket.bucket == b)
                    .values(remaining=StockBucket.remaining + more)
                )

    def remaining(self, activity_ids: Sequence[int]) -> dict[int, int]:
        if not activity_ids:
            return {}
        stmt = (
            select(StockBucket.activity_id, func.sum(StockBucket.remaining))
            .where(StockBucket.activity_id.in_(activity_ids))
            .group_by(StockBucket.activity_id)
        )
        return {a: int(n or 0) for a, n in self.db.execute(stmt)}

    def take_stock(self, activity_id: int, start: int, buckets: int) -> int | None:
        """One unit from a bucket with stock, trying from `start`: what that bucket has left,
        or None when no bucket has any."""
        if self._postgres:
            # Fail fast: one statement takes from the first bucket with stock that no other
            # claim holds; a held bucket is skipped, not waited for.
            free = (
                select(StockBucket.bucket)
                .where(StockBucket.activity_id == activity_id, StockBucket.remaining > 0)
                .order_by((StockBucket.bucket - start + buckets) % buckets)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            left = self._take_from(activity_id, free)
            if left is not None:
                return left
        # Every bucket with stock is held by another claim (or this is SQLite, where a
        # writer has the database to itself): try them in turn, waiting where held.
        for bucket in [(start + i) % buckets for i in range(buckets)]:
            left = self._take_from(activity_id, bucket)
            if left is not None:
                return left
        return None

    def _take_from(self, activity_id: int, bucket: object) -> int | None:
        return self.db.scalars(
            update(StockBucket)
            .where(
                StockBucket.activity_id == activity_id,
                StockBucket.bucket == bucket,
                StockBucket.remaining > 0,
            )
            .values(remaining=StockBucket.remaining - 1)
            .returning(StockBucket.remaining)
        ).first()

    # --- limits -----------------------------------------------------------------------

    def bump_counter(self, activity_id: int, subject: str, period: str, limit: int) -> bool:
        """Count one claim for `subject` in `period`; False (nothing counted) at the limit.
        One statement: the first claim inserts the row at 1 (every limit is at least 1),
        later ones add 1 only while the count is below the limit."""
        insert = pg_insert if self._postgres else sqlite_insert
        stmt = insert(ClaimCounter).values(
            activity_id=activity_id, subject=subject, period=period, count=1
        )
        counted = self.db.scalars(
            stmt.on_conflict_do_update(
                index_elements=["activity_id", "subject", "period"],
                set_={"count": ClaimCounter.count + 1},
                where=ClaimCounter.count < limit,
            ).returning(ClaimCounter.count)
        ).first()
        return counted is not None

    # --- codes and coupons --------------------------------------------------------------

    def add_codes(self, activity_id: int, codes: Sequence[str]) -> None:
        self.db.add_all(CouponCode(activity_id=activity_id, code=c) for c in codes)
        self.db.flush()

    def code_count(self, activity_id: int) -> int:
        stmt = select(func.count()).where(CouponCode.activity_id == activity_id)
        return int(self.db.scalar(stmt) or 0)

    def free_code(self, activity_id: int) -> CouponCode | None:
        """An unused deposited code, locked for this claim (skipped by concurrent ones)."""
        stmt = (
            select(CouponCode)
            .where(CouponCode.activity_id == activity_id, CouponCode.coupon_id.is_(None))
            .order_by(CouponCode.id)
            .limit(1)
        )
        if self._postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return self.db.scalars(stmt).first()

    def coupon_by_claim_key(self, activity_id: int, claim_key: str) -> Coupon | None:
        stmt = select(Coupon).where(
            Coupon.activity_id == activity_id, Coupon.claim_key == claim_key
        )
        return self.db.scalars(scoped(stmt, Coupon.merchant_id, self.tenant)).first()

    def coupons(
        self, *, activity_id: int | None = None, consumer_id: int | None = None, limit: int = 200
    ) -> list[Coupon]:
        stmt = scoped(select(Coupon), Coupon.merchant_id, self.tenant)
        if activity_id is not None:
            stmt = stmt.where(Coupon.activity_id == activity_id)
        if consumer_id is not None:
            stmt = stmt.where(Coupon.consumer_id == consumer_id)
        return list(self.db.scalars(stmt.order_by(Coupon.id.desc()).limit(limit)))

    def consumer_coupons(self, consumer_id: int, coupon_ids: Sequence[int]) -> dict[int, Coupon]:
        stmt = select(Coupon).where(Coupon.consumer_id == consumer_id, Coupon.id.in_(coupon_ids))
        return {c.id: c for c in self.db.scalars(scoped(stmt, Coupon.merchant_id, self.tenant))}

    def activities_by_id(self, ids: set[int]) -> dict[int, CouponActivity]:
        stmt = select(CouponActivity).where(CouponActivity.id.in_(sorted(ids)))
        found = self.db.scalars(scoped(stmt, CouponActivity.merchant_id, self.tenant))
        return {a.id: a for a in found}

    def lock(self, coupon_id: int, order_id: int, discount_fen: int) -> bool:
        """available → locked on this order; False if another order got there first."""
        locked = self.db.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.status == CouponStatus.AVAILABLE)
            .values(status=CouponStatus.LOCKED, order_id=order_id, discount_fen=discount_fen)
        )
        return bool(locked.rowcount == 1)  # type: ignore[attr-defined]

    def on_order(self, order_id: int, status: CouponStatus) -> list[Coupon]:
        stmt = select(Coupon).where(Coupon.order_id == order_id, Coupon.status == status)
        return list(self.db.scalars(stmt.order_by(Coupon.id)))

    def settle(self, order_id: int, used_at: datetime) -> list[Coupon]:
        """locked → used for the coupons on this order; the ones that changed."""
        ids = list(
            self.db.scalars(
                update(Coupon)
                .where(Coupon.order_id == order_id, Coupon.status == CouponStatus.LOCKED)
                .values(status=CouponStatus.USED, used_at=used_at)
                .returning(Coupon.id)
            )
        )
        if not ids:
            return []
        return list(self.db.scalars(select(Coupon).where(Coupon.id.in_(ids))))

    def unlock(self, coupon_id: int, status: CouponStatus, to: CouponStatus) -> bool:
        done = self.db.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.status == status)
            .values(
                status=to,
                order_id=None,
                discount_fen=0,
                used_at=None,
                use_ref=None,
                use_trade_no=None,
            )
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def expire_due(self, now: datetime, limit: int) -> list[Coupon]:
        """available → expired for coupons past their end; at most `limit`, oldest first."""
        stmt = (
            select(Coupon.id)
            .where(Coupon.status == CouponStatus.AVAILABLE, Coupon.valid_until <= now)
            .order_by(Coupon.valid_until)
            .limit(limit)
        )
        if self._postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(self.db.scalars(stmt))
        if not ids:
            return []
        self.db.execute(
            update(Coupon)
            .where(Coupon.id.in_(ids), Coupon.status == CouponStatus.AVAILABLE)
            .values(status=CouponStatus.EXPIRED)
        )
        return list(self.db.scalars(select(Coupon).where(Coupon.id.in_(ids))))

    # --- statistics -------------------------------------------------------------------

    def claims_by_channel(self, activity_id: int) -> dict[str, int]:
        """Coupons issued by the activity, counted per channel (channels without any are
        left out)."""
        mine = scoped(
            select(Coupon.channel).where(Coupon.activity_id == activity_id),
            Coupon.merchant_id,
            self.tenant,
        )
        rows = self.db.execute(mine.add_columns(func.count()).group_by(Coupon.channel))
        return {str(getattr(channel, "value", channel)): int(n) for channel, n in rows}

    def coupon_by_code(self, activity_id: int, code: str) -> Coupon | None:
        stmt = select(Coupon).where(Coupon.activity_id == activity_id, Coupon.code == code)
        return self.db.scalars(scoped(stmt, Coupon.merchant_id, self.tenant)).first()

    # --- risk data --------------------------------------------------------------------------

    def settings(self, merchant_id: int) -> CouponSettings | None:
        return self.db.get(CouponSettings, merchant_id)

    def accounts_on_device(self, device_id: str, since: datetime) -> set[int]:
        """Accounts that tried to claim on the device (granted or not), on any merchant."""
        stmt = select(ClaimDecision.consumer_id).where(
            ClaimDecision.device_id == device_id, ClaimDecision.at >= since
        )
        return set(self.db.scalars(stmt.distinct()))

    def claims_from_ip(self, ip: str, since: datetime) -> int:
        stmt = select(func.count()).where(ClaimDecision.ip == ip, ClaimDecision.at >= since)
        return int(self.db.scalar(stmt) or 0)

    def claims_and_uses(self, consumer_id: int, since: datetime) -> tuple[int, int]:
        stmt = select(func.count(), func.count().filter(Coupon.status == CouponStatus.USED)).where(
            Coupon.consumer_id == consumer_id, Coupon.claimed_at >= since
        )
        claims, uses = self.db.execute(stmt).one()
        return int(claims), int(uses)

    def blacklisted(self, entries: Sequence[tuple[BlacklistKind, str]]) -> set[BlacklistKind]:
        wanted = [(k, v) for k, v in entries if v]
        if not wanted:
            return set()
        stmt = select(BlacklistEntry.kind, BlacklistEntry.value).where(
            BlacklistEntry.value.in_([v for _, v in wanted])
        )
        found = {(kind, value) for kind, value in self.db.execute(stmt)}
        return {k for k, v in wanted if (k, v) in found}

    def decisions(
        self, activity_id: int, *, blocked_only: bool, limit: int = 200
    ) -> list[ClaimDecision]:
        stmt = select(ClaimDecision).where(ClaimDecision.activity_id == activity_id)
        if blocked_only:
            stmt = stmt.where(ClaimDecision.outcome != Outcome.PASS)
        stmt = scoped(stmt, ClaimDecision.merchant_id, self.tenant)
        return list(self.db.scalars(stmt.order_by(ClaimDecision.id.desc()).limit(limit)))

    def decision_totals(self, activity_id: int) -> dict[str, tuple[int, int]]:
        """outcome -> (claims, face value in fen) for the activity."""
        mine = scoped(
            select(ClaimDecision.outcome).where(ClaimDecision.activity_id == activity_id),
            ClaimDecision.merchant_id,
            self.tenant,
        )
        rows = self.db.execute(
            mine.add_columns(func.count(), func.sum(ClaimDecision.face_fen)).group_by(
                ClaimDecision.outcome
            )
        )
        return {str(getattr(o, "value", o)): (int(n), int(f or 0)) for o, n, f in rows}

    def blacklist(self) -> list[BlacklistEntry]:
        return list(self.db.scalars(select(BlacklistEntry).order_by(BlacklistEntry.id.desc())))

    def blacklist_entry(self, kind: BlacklistKind, value: str) -> BlacklistEntry | None:
        stmt = select(BlacklistEntry).where(
            BlacklistEntry.kind == kind, BlacklistEntry.value == value
        )
        return self.db.scalars(stmt).first()

    def counter(self, activity_id: int, subject: str, period: str) -> int:
        stmt = select(ClaimCounter.count).where(
            ClaimCounter.activity_id == activity_id,
            ClaimCounter.subject == subject,
            ClaimCounter.period == period,
        )
        return int(self.db.scalar(stmt) or 0)

    def activity_by_passphrase(self, passphrase: str) -> CouponActivity | None:
        stmt = select(CouponActivity).where(CouponActivity.passphrase == passphrase)
        return self.db.scalars(scoped(stmt, CouponActivity.merchant_id, self.tenant)).first()

    def open_activities(self, now: datetime, limit: int) -> list[CouponActivity]:
        stmt = (
            select(CouponActivity)
            .where(
                CouponActivity.status == ActivityStatus.ACTIVE,
                CouponActivity.claim_begin <= now,
                CouponActivity.claim_end > now,
                CouponActivity.favoriters_only.is_(False),
            )
            .order_by(CouponActivity.id.desc())
            .limit(limit)
        )
        return list(self.db.scalars(scoped(stmt, CouponActivity.merchant_id, self.tenant)))

    def use_reported(
        self, coupon_id: int, discount_fen: int, ref: str, trade_no: str | None, at: datetime
    ) -> bool:
        """available → used by a report from the merchant's till; False if it was not
        available any more."""
        done = self.db.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.status == CouponStatus.AVAILABLE)
            .values(
                status=CouponStatus.USED,
                discount_fen=discount_fen,
                use_ref=ref,
                use_trade_no=trade_no,
                used_at=at,
            )
        )
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def screened(self, activity_id: int, consumer_id: int) -> bool:
        """Whether the filter has decided on a claim of this consumer for this activity."""
        stmt = select(ClaimDecision.id).where(
            ClaimDecision.activity_id == activity_id, ClaimDecision.consumer_id == consumer_id
        )
        return self.db.scalars(stmt.limit(1)).first() is not None

    def ended_activities(self, now: datetime, limit: int = 100) -> list[CouponActivity]:
        """Activities still draft, active or paused whose claim window is over."""
        stmt = (
            select(CouponActivity)
            .where(
                CouponActivity.status.in_(
                    [ActivityStatus.DRAFT, ActivityStatus.ACTIVE, ActivityStatus.PAUSED]
                ),
                CouponActivity.claim_end <= now,
            )
            .order_by(CouponActivity.id)
            .limit(limit)
        )
        return list(self.db.scalars(scoped(stmt, CouponActivity.merchant_id, self.tenant)))
