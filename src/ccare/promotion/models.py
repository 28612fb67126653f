"""Advertising plans, ad groups and creatives (灯火)."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, TimestampMixin, str_enum
from ccare.core.time import utcnow


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


# --- serving, tracking and billing -----------------------------------------------------
# Costs are kept in milli-fen: a CPM price in fen per thousand impressions is exactly the
# cost of one impression in milli-fen. The ledger moves whole fen as they accrue.


class AdPlanDay(Base):
    """A plan's spend on one local day: the race-safe daily budget counter."""

    __tablename__ = "ad_plan_days"

    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("ad_plans.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    spent_millifen: Mapped[int] = mapped_column(BigInteger, default=0)


class AdPlanTotal(Base):
    """A plan's spend over its life: the race-safe total budget counter."""

    __tablename__ = "ad_plan_totals"

    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("ad_plans.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    spent_millifen: Mapped[int] = mapped_column(BigInteger, default=0)
    billed_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class AdImpression(IdMixin, Base):
    """A served ad that was seen. (decision_id, slot) is unique: a replayed impression
    token finds its row and is refused."""

    __tablename__ = "ad_impressions"
    __table_args__ = (
        UniqueConstraint("decision_id", "slot"),
        Index("ix_ad_impressions_consumer_time", "consumer_id", "created_at"),
    )

    decision_id: Mapped[str] = mapped_column(String(32))
    slot: Mapped[int]
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    consumer_id: Mapped[int | None] = mapped_column(BigInteger)
    placement: Mapped[str] = mapped_column(String(40))
    plan_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    group_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    creative_id: Mapped[int] = mapped_column(BigInteger)
    booking_id: Mapped[int | None] = mapped_column(BigInteger)
    grant_id: Mapped[int | None] = mapped_column(BigInteger)
    charge_type: Mapped[str] = mapped_column(String(8))
    # The auction price: per click for CPC, per impression (= per mille in fen) for CPM.
    price_millifen: Mapped[int] = mapped_column(BigInteger)
    cost_millifen: Mapped[int] = mapped_column(BigInteger, default=0)  # charged for it
    city: Mapped[str | None] = mapped_column(String(30))
    member_level: Mapped[str | None] = mapped_column(String(12))
    query: Mapped[str | None] = mapped_column(String(60))
    decided_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ClickStatus(StrEnum):
    BILLED = "billed"
    FREE = "free"  # a CPM, booked or free-exposure impression: clicks cost nothing more
    INVALID = "invalid"  # filtered: never charged
    UNFUNDED = "unfunded"  # the budget or balance ran out: served, not charged


class AdClick(IdMixin, Base):
    __tablename__ = "ad_clicks"
    __table_args__ = (Index("ix_ad_clicks_consumer_time", "consumer_id", "created_at"),)

    impression_id: Mapped[int] = mapped_column(BigId, ForeignKey("ad_impressions.id"), unique=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    consumer_id: Mapped[int | None] = mapped_column(BigInteger)
    placement: Mapped[str] = mapped_column(String(40))
    plan_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    group_id: Mapped[int | None] = mapped_column(BigInteger)
    creative_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[ClickStatus] = mapped_column(str_enum(ClickStatus, 10))
    invalid_reason: Mapped[str | None] = mapped_column(String(40))
    cost_millifen: Mapped[int] = mapped_column(BigInteger, default=0)
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ConversionSource(StrEnum):
    ORDER = "order"  # a paid order, attributed by the platform
    UPLOAD = "upload"  # reported by the advertiser (leads, offline sales)


class AdConversion(IdMixin, Base):
    __tablename__ = "ad_conversions"
    __table_args__ = (
        UniqueConstraint("merchant_id", "out_conversion_no"),
        Index("ix_ad_conversions_consumer_plan", "consumer_id", "plan_id"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    out_conversion_no: Mapped[str] = mapped_column(String(64))  # order id or the upload's no
    click_id: Mapped[int] = mapped_column(BigId, ForeignKey("ad_clicks.id"), index=True)
    consumer_id: Mapped[int | None] = mapped_column(BigInteger)
    plan_id: Mapped[int | None] = mapped_column(BigInteger)
    group_id: Mapped[int | None] = mapped_column(BigInteger)
    creative_id: Mapped[int] = mapped_column(BigInteger)
    placement: Mapped[str] = mapped_column(String(40))
    source: Mapped[ConversionSource] = mapped_column(str_enum(ConversionSource, 8))
    kind: Mapped[str] = mapped_column(String(20))  # order, lead, registration, …
    value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReservedTerm(IdMixin, TimestampMixin, Base):
    """A brand direct-zone search term (品牌专区), reserved by the operator for the one
    merchant certified as that brand."""

    __tablename__ = "ad_reserved_terms"

    term: Mapped[str] = mapped_column(String(40), unique=True)  # compact form
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)


class AdModelState(IdMixin, Base):
    """A learned pCTR or pCVR model and how far into the logs it has learned."""

    __tablename__ = "ad_models"

    kind: Mapped[str] = mapped_column(String(8), unique=True)  # ctr | cvr
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    learned_until_id: Mapped[int] = mapped_column(BigInteger, default=0)
    examples: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
