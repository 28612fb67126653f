"""Every query of segments; tenant rows only through `scoped()`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.segments.models import Segment, SegmentMember, SegmentSize

CHUNK = 1000


def _chunks(values: list[int], size: int = CHUNK) -> Iterator[list[int]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


class SegmentRepository:
    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    def segment(self, segment_id: int, *, lock: bool = False) -> Segment | None:
        stmt = scoped(
            select(Segment).where(Segment.id == segment_id), Segment.merchant_id, self.tenant
        )
        if lock and self.db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return self.db.scalars(stmt).first()

    def by_name(self, merchant_id: int, name: str) -> Segment | None:
        stmt = select(Segment).where(Segment.merchant_id == merchant_id, Segment.name == name)
        return self.db.scalars(scoped(stmt, Segment.merchant_id, self.tenant)).first()

    def by_request_no(self, merchant_id: int, out_request_no: str) -> Segment | None:
        stmt = select(Segment).where(
            Segment.merchant_id == merchant_id, Segment.out_request_no == out_request_no
        )
        return self.db.scalars(scoped(stmt, Segment.merchant_id, self.tenant)).first()

    def segments(self, merchant_id: int | None = None) -> list[Segment]:
        stmt = select(Segment).order_by(Segment.id.desc())
        if merchant_id is not None:
            stmt = stmt.where(Segment.merchant_id == merchant_id)
        return list(self.db.scalars(scoped(stmt, Segment.merchant_id, self.tenant)))

    def due(self, now: datetime, limit: int) -> list[int]:
        """Segments whose scheduled refresh is due; on PostgreSQL rows another worker is
        refreshing are skipped."""
        stmt = (
            select(Segment.id)
            .where(Segment.next_refresh_at.is_not(None), Segment.next_refresh_at <= now)
            .order_by(Segment.next_refresh_at)
            .limit(limit)
        )
        stmt = scoped(stmt, Segment.merchant_id, self.tenant)
        if self.db.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.db.scalars(stmt))

    # --- members ----------------------------------------------------------------------

    def _members_stmt(self, segment_id: int) -> Select[tuple[int]]:
        stmt = select(SegmentMember.consumer_id).where(SegmentMember.segment_id == segment_id)
        return scoped(stmt, SegmentMember.merchant_id, self.tenant)

    def segments_of(self, consumer_id: int) -> list[int]:
        stmt = select(SegmentMember.segment_id).where(SegmentMember.consumer_id == consumer_id)
        return list(self.db.scalars(scoped(stmt, SegmentMember.merchant_id, self.tenant)))

    def member_ids(self, segment_id: int) -> list[int]:
        return list(
            self.db.scalars(self._members_stmt(segment_id).order_by(SegmentMember.consumer_id))
        )

    def member_page(self, segment_id: int, after: int, limit: int) -> list[int]:
        """Members above `after` in consumer id order (keyset pages, no OFFSET)."""
        stmt = (
            self._members_stmt(segment_id)
            .where(SegmentMember.consumer_id > after)
            .order_by(SegmentMember.consumer_id)
            .limit(limit)
        )
        return list(self.db.scalars(stmt))

    def member_batches(self, segment_id: int, batch: int) -> Iterator[list[int]]:
        after = 0
        while ids := self.member_page(segment_id, after, batch):
            yield ids
            after = ids[-1]

    def member_count(self, segment_id: int) -> int:
        stmt = (
            select(func.count())
            .select_from(SegmentMember)
            .where(SegmentMember.segment_id == segment_id)
        )
        return int(self.db.scalar(scoped(stmt, SegmentMember.merchant_id, self.tenant)) or 0)

    def add_members(self, segment: Segment, consumer_ids: Iterable[int]) -> None:
        rows = [
            {"segment_id": segment.id, "consumer_id": c, "merchant_id": segment.merchant_id}
            for c in consumer_ids
        ]
        for i in range(0, len(rows), CHUNK):
            self.db.execute(insert(SegmentMember), rows[i : i + CHUNK])

    def remove_members(self, segment: Segment, consumer_ids: list[int]) -> None:
        for chunk in _chunks(consumer_ids):
            stmt = delete(SegmentMember).where(
                SegmentMember.segment_id == segment.id, SegmentMember.consumer_id.in_(chunk)
            )
            self.db.execute(scoped(stmt, SegmentMember.merchant_id, self.tenant))

    # --- sizes ------------------------------------------------------------------------

    def sizes(self, segment_id: int, limit: int = 90) -> list[SegmentSize]:
        stmt = (
            select(SegmentSize)
            .where(SegmentSize.segment_id == segment_id)
            .order_by(SegmentSize.computed_at.desc(), SegmentSize.id.desc())
            .limit(limit)
        )
        rows = list(self.db.scalars(scoped(stmt, SegmentSize.merchant_id, self.tenant)))
        return rows[::-1]

    def delete(self, segment: Segment) -> None:
        for model in (SegmentMember, SegmentSize):
            stmt = delete(model).where(model.segment_id == segment.id)
            self.db.execute(scoped(stmt, model.merchant_id, self.tenant))
        self.db.delete(segment)
        self.db.flush()
