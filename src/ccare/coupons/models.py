"""Merchant coupons (商家券): activities, the coupons users hold, stock and claim counters.

Stock lives in buckets and claim limits in counter rows, each changed only by a
conditional UPDATE, so concurrent claims can never issue more than either allows.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, TimestampMixin, str_enum
from ccare.core.time import utcnow
from ccare.coupons.antifraud import Outcome, Strictness
from ccare.coupons.pricing import CouponKind, DiscountBase, Stacking


class ActivityStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    EXPIRED = "expired"


class CodeMode(StrEnum):
    PLATFORM = "platform"  # the platform generates each code at claim time
    MERCHANT_UPLOAD = "merchant_upload"  # codes deposited by the merchant, one taken per claim


class RefundPolicy(StrEnum):
    RETURN = "return"  # a refunded order gives the coupon back (if still valid)
    FORFEIT = "forfeit"


class Channel(StrEnum):
    PAYMENT_SUCCESS = "payment_success"
    SEARCH_PASSPHRASE = "search_passphrase"
    COUPON_VENUE = "coupon_venue"
    FAN_GROUP = "fan_group"
    FAVORITES_GIFT = "favorites_gift"
    MESSAGE = "message"
    AD_CREATIVE = "ad_creative"
    OFFLINE_QR = "offline_qr"
    API = "api"  # sent by the merchant's own system


class CouponStatus(StrEnum):
    AVAILABLE = "available"
    LOCKED = "locked"  # held by an unpaid order
    USED = "used"
    EXPIRED = "expired"
    VOIDED = "voided"  # the activity was stopped with void, or the merchant revoked it


class CouponActivity(IdMixin, TimestampMixin, Base):
    __tablename__ = "coupon_activities"
    __table_args__ = (UniqueConstraint("merchant_id", "out_biz_no"),)

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    out_biz_no: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(60))
    status: Mapped[ActivityStatus] = mapped_column(
        str_enum(ActivityStatus), default=ActivityStatus.DRAFT
    )
    kind: Mapped[CouponKind] = mapped_column(str_enum(CouponKind))
    amount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    floor_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    pay_rate_bp: Mapped[int] = mapped_column(default=10000)
    ceiling_fen: Mapped[int | None] = mapped_column(BigInteger)
    special_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # Budgets: the count of coupons, and money as the most each coupon can take off
    # (face_fen); the effective count is the smaller of quantity and budget // face.
    quantity: Mapped[int] = mapped_column(BigInteger)
    budget_fen: Mapped[int | None] = mapped_column(BigInteger)
    face_fen: Mapped[int] = mapped_column(BigInteger)
    daily_cap: Mapped[int | None] = mapped_column(BigInteger)
    # Per user {"lifetime": n, "day": n, "week": n, "month": n}; a missing period: no limit.
    user_limits: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    device_limit: Mapped[int | None]
    claim_begin: Mapped[datetime]
    claim_end: Mapped[datetime]
    validity: Mapped[dict[str, Any]] = mapped_column(JSONType)
    items_include: Mapped[list[int] | None] = mapped_column(JSONType)
    items_exclude: Mapped[list[int]] = mapped_column(JSONType, default=list)
    store_ids: Mapped[list[int] | None] = mapped_column(JSONType)
    mini_program_ids: Mapped[list[int] | None] = mapped_column(JSONType)
    stacking: Mapped[Stacking] = mapped_column(str_enum(Stacking), default=Stacking.EXCLUSIVE)
    priority: Mapped[int] = mapped_column(default=0)
    base: Mapped[DiscountBase] = mapped_column(
        str_enum(DiscountBase), default=DiscountBase.DISCOUNTED
    )
    refund_policy: Mapped[RefundPolicy] = mapped_column(
        str_enum(RefundPolicy), default=RefundPolicy.RETURN
    )
    code_mode: Mapped[CodeMode] = mapped_column(str_enum(CodeMode), default=CodeMode.PLATFORM)
    buckets: Mapped[int] = mapped_column(default=1)
    # 口令: searched in the app, it pops this activity's coupon (channel search_passphrase).
    passphrase: Mapped[str | None] = mapped_column(String(20), unique=True)
    # An exclusive benefit of favoriters: claimed only through the favorites product, not
    # listed in the venue.
    favoriters_only: Mapped[bool] = mapped_column(default=False)


class ActivityChange(IdMixin, Base):
    """The audit history: every create, change and status move, with who and what."""

    __tablename__ = "coupon_activity_changes"

    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon_activities.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(80))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class StockBucket(Base):
    """A slice of an activity's stock: claims spread over buckets instead of one hot row."""

    __tablename__ = "coupon_stock_buckets"

    activity_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("coupon_activities.id"), primary_key=True
    )
    bucket: Mapped[int] = mapped_column(primary_key=True)
    remaining: Mapped[int] = mapped_column(BigInteger)


class ClaimCounter(IdMixin, Base):
    """How many coupons of an activity a subject (user, device, identity, the whole
    activity for its daily cap) claimed in a period ("life", "d:2026-11-24", "w:2026-W48",
    "m:2026-11")."""

    __tablename__ = "coupon_claim_counters"
    __table_args__ = (UniqueConstraint("activity_id", "subject", "period"),)

    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon_activities.id"))
    subject: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(default=0)


class CouponCode(IdMixin, Base):
    """A code deposited by the merchant (code mode merchant_upload)."""

    __tablename__ = "coupon_codes"
    __table_args__ = (
        UniqueConstraint("activity_id", "code"),
        Index("ix_coupon_codes_free", "activity_id", "coupon_id"),
    )

    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon_activities.id"))
    code: Mapped[str] = mapped_column(String(40))
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)


class Coupon(IdMixin, Base):
    """A coupon a user holds."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("activity_id", "code"),
        UniqueConstraint("activity_id", "claim_key"),
        Index("ix_coupons_consumer_status", "consumer_id", "status"),
    )

    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon_activities.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(40))
    claim_key: Mapped[str] = mapped_column(String(80))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    status: Mapped[CouponStatus] = mapped_column(
        str_enum(CouponStatus), default=CouponStatus.AVAILABLE
    )
    device_id: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    used_at: Mapped[datetime | None]
    # A use the merchant reported from its own till (gateway `use`): its out_biz_no, so the
    # same report again is the same use, and the trade it was for.
    use_ref: Mapped[str | None] = mapped_column(String(64))
    use_trade_no: Mapped[str | None] = mapped_column(String(64))


class CouponSettings(Base):
    """A merchant's coupon settings: how strict the anti-cheating filter is."""

    __tablename__ = "coupon_settings"

    merchant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    strictness: Mapped[Strictness] = mapped_column(
        str_enum(Strictness), default=Strictness.STANDARD
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BlacklistKind(StrEnum):
    DEVICE = "device"
    ACCOUNT = "account"
    IP = "ip"


class BlacklistEntry(IdMixin, Base):
    """The platform's risk list: devices, accounts and IPs known for abuse."""

    __tablename__ = "coupon_blacklist"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    kind: Mapped[BlacklistKind] = mapped_column(str_enum(BlacklistKind))
    value: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimDecision(IdMixin, Base):
    """The filter's decision on one claim, with its explanation; kept for blocked claims
    too (they are the merchant's record of what the filter saved)."""

    __tablename__ = "coupon_claim_decisions"
    __table_args__ = (
        Index("ix_coupon_claim_decisions_merchant_at", "merchant_id", "at"),
        Index("ix_coupon_claim_decisions_ip_at", "ip", "at"),
        Index("ix_coupon_claim_decisions_device_at", "device_id", "at"),
    )

    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon_activities.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger)
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str | None] = mapped_column(String(80))
    ip: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome))
    score: Mapped[int]
    strictness: Mapped[Strictness] = mapped_column(str_enum(Strictness))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONType)
    face_fen: Mapped[int] = mapped_column(BigInteger)
    coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(default=utcnow)
