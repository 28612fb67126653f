"""Campaigns and their members: who was chosen, in which arm, and what they were given."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, TimestampMixin, str_enum


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"  # started, waiting for its start time
    RUNNING = "running"  # a trigger campaign keeps taking new members until it ends
    DONE = "done"  # everyone chosen was given what the campaign gives
    CANCELLED = "cancelled"


class Arm(StrEnum):
    TREATMENT = "treatment"
    HOLDOUT = "holdout"  # chosen, given nothing: the baseline the uplift is measured against


class Campaign(IdMixin, TimestampMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("merchant_id", "out_request_no"),)

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(60))
    out_request_no: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[int | None] = mapped_column(BigInteger)
    # None: once, the segment's members at the start. Otherwise {"kind": ..., ...}.
    trigger: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    template_id: Mapped[int | None] = mapped_column(BigInteger)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    activity_id: Mapped[int | None] = mapped_column(BigInteger)
    holdout_percent: Mapped[int] = mapped_column(default=10)
    # Hash salt of the arm draw: random per campaign, fixed for its life.
    seed: Mapped[str] = mapped_column(String(32))
    conversion_days: Mapped[int] = mapped_column(default=7)
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus, 16), default=CampaignStatus.DRAFT, index=True
    )
    # Trigger rounds run so far; members of round k are given their things by round k.
    rounds: Mapped[int] = mapped_column(default=0)
    next_round_at: Mapped[datetime | None] = mapped_column(index=True)
    treated: Mapped[int] = mapped_column(BigInteger, default=0)
    held_out: Mapped[int] = mapped_column(BigInteger, default=0)
    coupons_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    coupons_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(300))


class CampaignMember(Base):
    """One row per consumer a campaign chose: its arm, when, and the coupon it got. The
    primary key is the once-only lock: nobody enters a campaign twice."""

    __tablename__ = "campaign_members"
    __table_args__ = (Index("ix_campaign_members_round", "campaign_id", "round", "arm"),)

    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), primary_key=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger)
    arm: Mapped[Arm] = mapped_column(str_enum(Arm, 12))
    round: Mapped[int] = mapped_column(default=0)
    assigned_at: Mapped[datetime]
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    coupon_error: Mapped[str | None] = mapped_column(String(60))


class CampaignRound(IdMixin, Base):
    """One pass of choosing and giving: the only one of a one-time campaign, one per firing
    of a trigger campaign."""

    __tablename__ = "campaign_rounds"
    __table_args__ = (UniqueConstraint("campaign_id", "round"),)

    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"))
    merchant_id: Mapped[int] = mapped_column(BigInteger)
    round: Mapped[int]
    ran_at: Mapped[datetime]
    treated: Mapped[int] = mapped_column(BigInteger, default=0)
    held_out: Mapped[int] = mapped_column(BigInteger, default=0)
    coupons_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    coupons_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    broadcast_id: Mapped[int | None] = mapped_column(BigInteger)
