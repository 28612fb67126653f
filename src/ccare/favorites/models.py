"""Tables of this product.

A consumer's favorite of a mini-program is one row for ever: unfavoriting clears `active`
and favoriting again sets it, each by a conditional UPDATE, so a repeated or concurrent
tap changes nothing and announces nothing. The row's existence is what makes the gift
once-ever: it is given only when the row is first inserted.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, JSONType, str_enum
from ccare.core.time import utcnow

MAX_BENEFITS = 5


class FavoriteChannel(StrEnum):
    """Where the favorite tap happened."""

    STOREFRONT = "storefront"
    APP_HOME = "app_home"
    MINI_PROGRAM = "mini_program"  # inside the merchant's own mini-program, through the API
    SEARCH = "search"
    FAN_GROUP = "fan_group"
    LIVE = "live"
    MESSAGE = "message"
    OFFLINE_QR = "offline_qr"


class GiftOutcome(StrEnum):
    NONE = "none"  # no gift was offered at the first favorite
    GIVEN = "given"
    REFUSED = "refused"


class Favorite(IdMixin, Base):
    __tablename__ = "favorites"
    __table_args__ = (
        UniqueConstraint("consumer_id", "mini_program_id"),
        # The merchant's list of current favoriters, newest first.
        Index("ix_favorites_mini_program_active", "mini_program_id", "active", "favorited_at"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    consumer_id: Mapped[int] = mapped_column(BigInteger)
    mini_program_id: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True)
    first_favorited_at: Mapped[datetime] = mapped_column(default=utcnow)
    favorited_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(20))
    gift: Mapped[GiftOutcome] = mapped_column(str_enum(GiftOutcome, 10), default=GiftOutcome.NONE)
    gift_activity_id: Mapped[int | None] = mapped_column(BigInteger)
    gift_coupon_id: Mapped[int | None] = mapped_column(BigInteger)
    gift_refusal: Mapped[str | None] = mapped_column(String(64))


class FavoriteSettings(Base):
    """A mini-program's gift before favoriting and exclusive benefits after."""

    __tablename__ = "favorite_settings"

    mini_program_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    gift_activity_id: Mapped[int | None] = mapped_column(BigInteger)
    benefit_activity_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80), default="")
