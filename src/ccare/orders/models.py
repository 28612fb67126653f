from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, TimestampMixin
from ccare.core.time import utcnow


class OrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CLOSED = "closed"


class Order(IdMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "out_trade_no"),
        Index("ix_orders_status_expires_at", "status", "expires_at"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    mini_program_id: Mapped[int] = mapped_column(BigInteger, index=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    store_id: Mapped[int | None] = mapped_column(BigInteger)
    trade_no: Mapped[str] = mapped_column(String(32), unique=True)
    out_trade_no: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.CREATED.value)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    payable_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    platform_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fee_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_entry_id: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(20))
    # A trade created by a developer app: which app, and the notify_url its call named,
    # so that status notifications reach the system that asked.
    app_id: Mapped[str | None] = mapped_column(String(32))
    notify_url: Mapped[str | None] = mapped_column(String(500))


class OrderLine(IdMixin, Base):
    __tablename__ = "order_lines"

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), index=True)
    item_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(200))
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(BigInteger)


class OrderDiscount(IdMixin, Base):
    """The discount slot: coupons and campaigns lower what the consumer pays."""

    __tablename__ = "order_discounts"
    __table_args__ = (UniqueConstraint("order_id", "source", "reference"),)

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(120))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefundStatus(StrEnum):
    SUCCEEDED = "succeeded"


class Refund(IdMixin, Base):
    __tablename__ = "order_refunds"
    __table_args__ = (UniqueConstraint("order_id", "out_request_no"),)

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    out_request_no: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    fee_refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.SUCCEEDED.value)
    entry_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
