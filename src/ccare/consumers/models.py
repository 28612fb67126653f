from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, IdMixin, TimestampMixin, str_enum
from ccare.core.time import utcnow

MIN_CREDIT_SCORE = 350
MAX_CREDIT_SCORE = 950


class MemberLevel(StrEnum):
    """Platform member levels: 大众 / 黄金 / 铂金 / 钻石."""

    PUBLIC = "public"
    GOLD = "gold"
    PLATINUM = "platinum"
    DIAMOND = "diamond"


class DevicePlatform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class Consumer(IdMixin, TimestampMixin, Base):
    __tablename__ = "consumers"

    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    member_level: Mapped[MemberLevel] = mapped_column(
        str_enum(MemberLevel), default=MemberLevel.PUBLIC
    )
    city: Mapped[str] = mapped_column(String(50), index=True)
    credit_score: Mapped[int] = mapped_column(default=600)


class Device(IdMixin, Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("consumer_id", "device_id"),)

    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.id"))
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    platform: Mapped[DevicePlatform] = mapped_column(str_enum(DevicePlatform))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentCode(IdMixin, Base):
    """A buyer's payment code (付款码): single use, one minute, kept only as a hash."""

    __tablename__ = "payment_codes"

    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
