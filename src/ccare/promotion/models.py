"""Advertising plans, ad groups and creatives (灯火)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, TimestampMixin, str_enum


class Objective(StrEnum):
    TRANSACTIONS = "transactions"
    LEADS = "leads"
    BRAND = "brand"


class ChargeType(StrEnum):
    CPC = "cpc"
    CPM = "cpm"


class AdStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"  # final


class BidType(StrEnum):
    MANUAL = "manual"  # the bid is the price per click (CPC plans) or per mille (CPM)
    OCPC = "ocpc"  # bid for clicks, optimised to a target cost per conversion
    TARGET_ROI = "target_roi"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AdPlan(IdMixin, TimestampMixin, Base):
    __tablename__ = "ad_plans"
    __table_args__ = (UniqueConstraint("merchant_id", "out_request_no"),)

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    out_request_no: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(60))
    objective: Mapped[Objective] = mapped_column(str_enum(Objective, 16))
    charge_type: Mapped[ChargeType] = mapped_column(str_enum(ChargeType, 8))
    daily_budget_fen: Mapped[int] = mapped_column(BigInteger)
    total_budget_fen: Mapped[int | None] = mapped_column(BigInteger)
    # 7 × 24 hours, Monday 00:00 first, local time: "1" = may serve in that hour.
    hours: Mapped[str] = mapped_column(String(168))
    status: Mapped[AdStatus] = mapped_column(str_enum(AdStatus, 12), default=AdStatus.ACTIVE)


class AdGroup(IdMixin, TimestampMixin, Base):
    __tablename__ = "ad_groups"

    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("ad_plans.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(60))
    bid_type: Mapped[BidType] = mapped_column(str_enum(BidType, 12))
    bid_fen: Mapped[int] = mapped_column(BigInteger)
    target_cpa_fen: Mapped[int | None] = mapped_column(BigInteger)
    target_roi_bp: Mapped[int | None]  # GMV ÷ spend in basis points (25000 = 2.5)
    # {"placements": [...], "segments_include": [...], "segments_exclude": [...],
    #  "cities": [...], "member_levels": [...], "search_words": [...],
    #  "exclude_converted": bool}
    targeting: Mapped[dict[str, Any]] = mapped_column(JSONType)
    frequency_per_day: Mapped[int | None]
    status: Mapped[AdStatus] = mapped_column(str_enum(AdStatus, 12), default=AdStatus.ACTIVE)


class AdCreative(IdMixin, TimestampMixin, Base):
    __tablename__ = "ad_creatives"

    group_id: Mapped[int] = mapped_column(BigId, ForeignKey("ad_groups.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    title: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(80), default="")
    mini_program_id: Mapped[int] = mapped_column(BigInteger)
    page: Mapped[str] = mapped_column(String(200))
    coupon_activity_id: Mapped[int | None] = mapped_column(BigInteger)
    review_status: Mapped[ReviewStatus] = mapped_column(
        str_enum(ReviewStatus, 12), default=ReviewStatus.PENDING, index=True
    )
    review_note: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None]
    status: Mapped[AdStatus] = mapped_column(str_enum(AdStatus, 12), default=AdStatus.ACTIVE)
