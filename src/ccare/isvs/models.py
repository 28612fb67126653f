from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, IdMixin, JSONType, TimestampMixin, str_enum
from ccare.core.time import utcnow


class IsvStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class GrantStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Isv(IdMixin, TimestampMixin, Base):
    __tablename__ = "isvs"

    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[IsvStatus] = mapped_column(str_enum(IsvStatus), default=IsvStatus.ACTIVE)
    contact_email: Mapped[str] = mapped_column(String(200))


class IsvStaff(IdMixin, TimestampMixin, Base):
    __tablename__ = "isv_staff"

    isv_id: Mapped[int] = mapped_column(ForeignKey("isvs.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


_ACTIVE = text("status = 'active'")


class IsvGrant(IdMixin, Base):
    __tablename__ = "isv_grants"
    __table_args__ = (
        # Revoked grants stay as history; only one live grant per pair.
        Index(
            "uq_isv_grants_active_pair",
            "isv_id",
            "merchant_id",
            unique=True,
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        ),
    )

    isv_id: Mapped[int] = mapped_column(ForeignKey("isvs.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    status: Mapped[GrantStatus] = mapped_column(str_enum(GrantStatus), default=GrantStatus.ACTIVE)
    granted_by_staff_id: Mapped[int | None]
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
