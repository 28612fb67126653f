"""Segments, their materialised members and the history of their sizes."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, TimestampMixin
from ccare.core.time import utcnow


class Segment(IdMixin, TimestampMixin, Base):
    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("merchant_id", "name"),
        UniqueConstraint("merchant_id", "out_request_no"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(60))
    out_request_no: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Bumped when the rule changes: a refresh computed for an older rule is dropped.
    version: Mapped[int] = mapped_column(default=1)
    # None: refreshed on demand only.
    refresh_every_minutes: Mapped[int | None]
    next_refresh_at: Mapped[datetime | None] = mapped_column(index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    last_computed_at: Mapped[datetime | None]
    compute_ms: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None]


class SegmentMember(Base):
    __tablename__ = "segment_members"
    # Ads target segments: which segments one consumer is in is asked on every ad request.
    __table_args__ = (Index("ix_segment_members_consumer", "consumer_id"),)

    segment_id: Mapped[int] = mapped_column(BigId, ForeignKey("segments.id"), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger)


class SegmentSize(IdMixin, Base):
    """One row per successful computation: the size over time, and what changed."""

    __tablename__ = "segment_sizes"
    __table_args__ = (Index("ix_segment_sizes_segment", "segment_id", "computed_at"),)

    segment_id: Mapped[int] = mapped_column(BigId, ForeignKey("segments.id"))
    merchant_id: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    size: Mapped[int] = mapped_column(BigInteger)
    added: Mapped[int] = mapped_column(BigInteger, default=0)
    removed: Mapped[int] = mapped_column(BigInteger, default=0)
