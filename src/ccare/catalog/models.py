from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, TimestampMixin, str_enum

MAX_PRICE_FEN = 100_000_000


class MiniProgramStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


class ItemKind(StrEnum):
    GOODS = "goods"
    SERVICE = "service"


class ItemStatus(StrEnum):
    ON_SALE = "on_sale"
    OFF_SALE = "off_sale"


class VisitChannel(StrEnum):
    """Where a consumer came from when they opened a storefront."""

    MINI_PROGRAM = "mini_program"  # opened directly (the default)
    APP_HOME = "app_home"
    SEARCH = "search"
    FAVORITES = "favorites"
    COUPON_VENUE = "coupon_venue"
    FAN_GROUP = "fan_group"
    LIVE = "live"
    MESSAGE = "message"
    AD = "ad"
    OFFLINE_QR = "offline_qr"
    SHARE = "share"


class MiniProgram(IdMixin, TimestampMixin, Base):
    __tablename__ = "mini_programs"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(500), default="")
    category: Mapped[str] = mapped_column(String(40))
    # Copied from the merchant so the public directory can filter by city without a join.
    city: Mapped[str] = mapped_column(String(50), index=True)
    status: Mapped[MiniProgramStatus] = mapped_column(
        str_enum(MiniProgramStatus), default=MiniProgramStatus.ONLINE
    )


class Item(IdMixin, TimestampMixin, Base):
    __tablename__ = "items"
    __table_args__ = (Index("ix_items_mini_program_status", "mini_program_id", "status"),)

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    mini_program_id: Mapped[int] = mapped_column(ForeignKey("mini_programs.id"))
    kind: Mapped[ItemKind] = mapped_column(str_enum(ItemKind), default=ItemKind.GOODS)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(1000), default="")
    price_fen: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(comment="NULL = unlimited")
    status: Mapped[ItemStatus] = mapped_column(str_enum(ItemStatus), default=ItemStatus.ON_SALE)
    sold_count: Mapped[int] = mapped_column(default=0)


class StorefrontVisit(Base):
    """A consumer's last recorded visit to a storefront. A visit is recorded, and
    announced, at most once per `service.VISIT_WINDOW`: the row is changed only by a
    conditional UPDATE, so two concurrent opens record one visit."""

    __tablename__ = "storefront_visits"

    consumer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    mini_program_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mini_programs.id"), primary_key=True
    )
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    last_visit_at: Mapped[datetime]
    visits: Mapped[int] = mapped_column(BigInteger, default=1)
