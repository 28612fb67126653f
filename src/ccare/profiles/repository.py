"""Every OLTP query of this product (profiles themselves are read from the analytics store:
queries.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.core.tenancy import Tenant, scoped
from ccare.core.time import utcnow
from ccare.profiles.models import EventReceipt


class ProfileRepository:
    def __init__(self, db: Session, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant

    def record_receipts(self, merchant_id: int, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert one receipt per event not received before; the external ids inserted.

        One statement with ON CONFLICT DO NOTHING: on PostgreSQL a concurrent transaction
        inserting the same id waits for this one and then inserts nothing, so whatever
        runs at the same time, each (merchant, event id) is stored once.
        """
        self.tenant.require(merchant_id)
        if not rows:
            return set()
        postgres = self.db.get_bind().dialect.name == "postgresql"
        insert = pg_insert if postgres else sqlite_insert
        received_at = utcnow()
        # Keys in one order: overlapping concurrent batches then wait for each other
        # instead of deadlocking.
        rows = sorted(rows, key=lambda row: str(row["external_id"]))
        stmt = (
            insert(EventReceipt)
            .values(
                [{**row, "merchant_id": merchant_id, "received_at": received_at} for row in rows]
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "external_id"])
            .returning(EventReceipt.external_id)
        )
        return set(self.db.scalars(stmt))

    def receipts(self, merchant_id: int) -> list[EventReceipt]:
        stmt = (
            select(EventReceipt)
            .where(EventReceipt.merchant_id == merchant_id)
            .order_by(EventReceipt.id)
        )
        return list(self.db.scalars(scoped(stmt, EventReceipt.merchant_id, self.tenant)))

    def receipt_count(self, merchant_id: int, since: datetime | None = None) -> int:
        stmt = select(func.count()).where(EventReceipt.merchant_id == merchant_id)
        if since is not None:
            stmt = stmt.where(EventReceipt.received_at >= since)
        return int(self.db.scalar(scoped(stmt, EventReceipt.merchant_id, self.tenant)) or 0)
