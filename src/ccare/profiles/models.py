"""Customer profiles keep one OLTP table: the receipt of every event a merchant sent.

Profiles themselves are computed from the analytics store (queries.py); the receipts only
make ingestion idempotent: one row per (merchant, the merchant's event id), inserted with
ON CONFLICT DO NOTHING, so a re-sent or concurrently sent event is stored and emitted once.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, IdMixin
from ccare.core.time import utcnow


class EventChannel(StrEnum):
    """Where a customer event came from. The coupon channels are included so that an
    acquisition channel reads the same whichever product recorded it."""

    PAYMENT_SUCCESS = "payment_success"
    SEARCH_PASSPHRASE = "search_passphrase"
    COUPON_VENUE = "coupon_venue"
    FAN_GROUP = "fan_group"
    FAVORITES_GIFT = "favorites_gift"
    MESSAGE = "message"
    AD_CREATIVE = "ad_creative"
    OFFLINE_QR = "offline_qr"
    API = "api"
    SEARCH = "search"
    MINI_PROGRAM = "mini_program"
    LIFE_ACCOUNT = "life_account"
    LIVE_ROOM = "live_room"
    OFFLINE = "offline"
    AD = "ad"
    OTHER = "other"


class EventReceipt(IdMixin, Base):
    __tablename__ = "customer_event_receipts"
    __table_args__ = (UniqueConstraint("merchant_id", "external_id"),)

    merchant_id: Mapped[int] = mapped_column(BigInteger)
    external_id: Mapped[str] = mapped_column(String(64))
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
