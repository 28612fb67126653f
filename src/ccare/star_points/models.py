"""繁星 points: each merchant's account and ledger of entries, the free-exposure grants
points were redeemed for, and the few facts earning needs (who visited on which day, who
favorited before, how much each rule earned today)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, IdMixin, TimestampMixin, str_enum
from ccare.core.time import utcnow


class GrantStatus(StrEnum):
    ACTIVE = "active"
    EXHAUSTED = "exhausted"  # every impression served: final


class StarPointAccount(IdMixin, TimestampMixin, Base):
    """The merchant's points. `balance` changes only by a conditional UPDATE, so it never
    goes below zero whatever runs at the same time."""

    __tablename__ = "star_point_accounts"

    merchant_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    earned_total: Mapped[int] = mapped_column(BigInteger, default=0)
    redeemed_total: Mapped[int] = mapped_column(BigInteger, default=0)


class StarPointEntry(IdMixin, Base):
    """One change of a balance: points a rule earned (positive) or a redemption (negative).
    `reference` names its cause once, so a cause delivered twice earns once."""

    __tablename__ = "star_point_entries"
    __table_args__ = (Index("ix_star_point_entries_merchant", "merchant_id", "id"),)

    merchant_id: Mapped[int] = mapped_column(BigInteger)
    rule: Mapped[str] = mapped_column(String(32))  # a rule key, or "redeem"
    points: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(120), unique=True)
    consumer_id: Mapped[int | None] = mapped_column(BigInteger)
    grant_id: Mapped[int | None] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)  # local day (UTC+8) of its cause
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StarPointGrant(IdMixin, Base):
    """Free impressions for one of the merchant's ad groups, bought with points."""

    __tablename__ = "star_point_grants"
    __table_args__ = (
        UniqueConstraint("merchant_id", "out_request_no"),
        Index("ix_star_point_grants_status", "status"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    group_id: Mapped[int] = mapped_column(BigInteger)
    out_request_no: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(BigInteger)
    impressions_total: Mapped[int] = mapped_column(BigInteger)
    impressions_used: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[GrantStatus] = mapped_column(
        str_enum(GrantStatus, 12), default=GrantStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    exhausted_at: Mapped[datetime | None]


class StarPointVisit(Base):
    """A consumer visited the merchant on a local day: the primary key makes the first
    visit of the day recognisable, and earlier rows make a return one."""

    __tablename__ = "star_point_visits"

    merchant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))


class StarPointFavorite(Base):
    """A consumer favorited a mini-program once: favoriting it again earns nothing."""

    __tablename__ = "star_point_favorites"

    mini_program_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    first_at: Mapped[datetime]


class StarPointDailyCount(Base):
    """Earnings of one rule for one merchant on one local day, taken one at a time by a
    conditional UPDATE below the rule's cap; `capped` counts what the cap refused."""

    __tablename__ = "star_point_daily_counts"

    merchant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    rule: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    earned: Mapped[int] = mapped_column(BigInteger, default=0)
    capped: Mapped[int] = mapped_column(BigInteger, default=0)
