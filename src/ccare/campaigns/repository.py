"""Every query of campaigns; tenant rows only through `scoped()`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.campaigns.models import Arm, Campaign, CampaignMember, CampaignRound, CampaignStatus
from ccare.core.tenancy import PLATFORM, Tenant, scoped

CHUNK = 1000
S = CampaignStatus


class CampaignRepository:
    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant
        self.postgres = db.get_bind().dialect.name == "postgresql"

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    def campaign(self, campaign_id: int, *, lock: bool = False) -> Campaign | None:
        stmt = scoped(
            select(Campaign).where(Campaign.id == campaign_id), Campaign.merchant_id, self.tenant
        )
        if lock and self.postgres:
            stmt = stmt.with_for_update()
        return self.db.scalars(stmt).first()

    def by_request_no(self, merchant_id: int, out_request_no: str) -> Campaign | None:
        stmt = select(Campaign).where(
            Campaign.merchant_id == merchant_id, Campaign.out_request_no == out_request_no
        )
        return self.db.scalars(scoped(stmt, Campaign.merchant_id, self.tenant)).first()

    def campaigns(self, merchant_id: int | None = None, limit: int = 200) -> list[Campaign]:
        stmt = select(Campaign).order_by(Campaign.id.desc()).limit(limit)
        if merchant_id is not None:
            stmt = stmt.where(Campaign.merchant_id == merchant_id)
        return list(self.db.scalars(scoped(stmt, Campaign.merchant_id, self.tenant)))

    def due(self, now: datetime, limit: int) -> list[int]:
        """Scheduled campaigns whose start has come, and running trigger campaigns whose
        next round has; on PostgreSQL rows another worker holds are skipped."""
        stmt = (
            select(Campaign.id)
            .where(
                or_(
                    and_(Campaign.status == S.SCHEDULED, Campaign.start_at <= now),
                    and_(Campaign.status == S.RUNNING, Campaign.next_round_at <= now),
                )
            )
            .order_by(Campaign.id)
            .limit(limit)
        )
        stmt = scoped(stmt, Campaign.merchant_id, self.tenant)
        if self.postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.db.scalars(stmt))

    def move(self, campaign_id: int, from_status: Iterable[S], values: dict[str, Any]) -> bool:
        """A conditional status change: false when the campaign was no longer in `from_status`."""
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status.in_(list(from_status)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result: Any = self.db.execute(scoped(stmt, Campaign.merchant_id, self.tenant))
        return int(result.rowcount or 0) > 0

    def count_round(self, campaign_id: int, done: CampaignRound) -> None:
        stmt = (
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(
                treated=Campaign.treated + done.treated,
                held_out=Campaign.held_out + done.held_out,
                coupons_sent=Campaign.coupons_sent + done.coupons_sent,
                coupons_failed=Campaign.coupons_failed + done.coupons_failed,
                rounds=done.round + 1,
                error=None,
            )
            .execution_options(synchronize_session=False)
        )
        self.db.execute(scoped(stmt, Campaign.merchant_id, self.tenant))

    # --- members ----------------------------------------------------------------------

    def add_members(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert members not in the campaign yet; the consumer ids this call inserted."""
        insert = pg_insert if self.postgres else sqlite_insert
        added: list[int] = []
        for i in range(0, len(rows), CHUNK):
            stmt = (
                insert(CampaignMember)
                .values(rows[i : i + CHUNK])
                .on_conflict_do_nothing(index_elements=["campaign_id", "consumer_id"])
                .returning(CampaignMember.consumer_id)
            )
            added.extend(self.db.scalars(stmt))
        return added

    def round_page(
        self, campaign_id: int, round_: int, arm: Arm, after: int, limit: int
    ) -> list[int]:
        stmt = (
            select(CampaignMember.consumer_id)
            .where(
                CampaignMember.campaign_id == campaign_id,
                CampaignMember.round == round_,
                CampaignMember.arm == arm,
                CampaignMember.consumer_id > after,
            )
            .order_by(CampaignMember.consumer_id)
            .limit(limit)
        )
        return list(self.db.scalars(scoped(stmt, CampaignMember.merchant_id, self.tenant)))

    def round_batches(
        self, campaign_id: int, round_: int, arm: Arm, size: int
    ) -> Iterator[list[int]]:
        after = 0
        while ids := self.round_page(campaign_id, round_, arm, after, size):
            yield ids
            after = ids[-1]

    def give_coupon(
        self, campaign_id: int, consumer_id: int, coupon_id: int | None, error: str | None
    ) -> None:
        stmt = (
            update(CampaignMember)
            .where(
                CampaignMember.campaign_id == campaign_id,
                CampaignMember.consumer_id == consumer_id,
            )
            .values(coupon_id=coupon_id, coupon_error=error)
            .execution_options(synchronize_session=False)
        )
        self.db.execute(scoped(stmt, CampaignMember.merchant_id, self.tenant))

    def members(
        self, campaign_id: int, *, arm: Arm | None = None, after: int = 0, limit: int | None = None
    ) -> list[CampaignMember]:
        stmt = (
            select(CampaignMember)
            .where(CampaignMember.campaign_id == campaign_id, CampaignMember.consumer_id > after)
            .order_by(CampaignMember.consumer_id)
        )
        if arm is not None:
            stmt = stmt.where(CampaignMember.arm == arm)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.db.scalars(scoped(stmt, CampaignMember.merchant_id, self.tenant)))

    def outcome_rows(self, campaign_id: int) -> list[tuple[int, str, datetime, int | None]]:
        """(consumer, arm, chosen at, coupon) of every member: the input of the results."""
        stmt = cast(
            Select[Any],
            select(
                CampaignMember.consumer_id,
                CampaignMember.arm,
                CampaignMember.assigned_at,
                CampaignMember.coupon_id,
            ).where(CampaignMember.campaign_id == campaign_id),
        )
        rows = self.db.execute(scoped(stmt, CampaignMember.merchant_id, self.tenant))
        return [(int(c), str(a), at, coupon) for c, a, at, coupon in rows]

    # --- rounds -----------------------------------------------------------------------

    def rounds(self, campaign_id: int) -> list[CampaignRound]:
        stmt = (
            select(CampaignRound)
            .where(CampaignRound.campaign_id == campaign_id)
            .order_by(CampaignRound.round)
        )
        return list(self.db.scalars(scoped(stmt, CampaignRound.merchant_id, self.tenant)))
