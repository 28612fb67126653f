from enum import StrEnum

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, IdMixin, TimestampMixin, str_enum
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


class Merchant(IdMixin, TimestampMixin, Base):
    __tablename__ = "merchants"

    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    industry: Mapped[Industry] = mapped_column(str_enum(Industry))
    status: Mapped[MerchantStatus] = mapped_column(str_enum(MerchantStatus), index=True)
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
    status: Mapped[StoreStatus] = mapped_column(str_enum(StoreStatus), default=StoreStatus.OPEN)


class Staff(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff"

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(str_enum(StaffRole))
    active: Mapped[bool] = mapped_column(default=True)
