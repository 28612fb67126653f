from enum import StrEnum

from sqlalchemy import Enum, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, IdMixin, TimestampMixin
from ccare.core.tenancy import StaffRole


class Industry(StrEnum):
    CATERING = "catering"
    RETAIL = "retail"
    SUPERMARKET = "supermarket"
    HOME_FURNISHING = "home_furnishing"
    JEWELRY = "jewelry"
    FITNESS = "fitness"
    HOME_SERVICES = "home_services"
    OTHER = "other"


class MerchantStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class StoreStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _enum(cls: type[StrEnum]) -> Enum:
    # Store the values (not the member names) as plain strings on every backend.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Merchant(IdMixin, TimestampMixin, Base):
    __tablename__ = "merchants"

    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    industry: Mapped[Industry] = mapped_column(_enum(Industry))
    status: Mapped[MerchantStatus] = mapped_column(_enum(MerchantStatus), index=True)
    city: Mapped[str] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))


class Store(IdMixin, TimestampMixin, Base):
    __tablename__ = "stores"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50))
    address: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    status: Mapped[StoreStatus] = mapped_column(_enum(StoreStatus), default=StoreStatus.OPEN)


class Staff(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole))
    active: Mapped[bool] = mapped_column(default=True)
