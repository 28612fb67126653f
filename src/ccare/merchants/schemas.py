from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ccare.core.events import DomainEvent, domain_event
from ccare.core.tenancy import StaffRole
from ccare.merchants.models import Industry, MerchantStatus, StoreStatus

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=200, pattern=EMAIL_PATTERN),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9-]{5,20}$")]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; refuse it here as a 422, not at INSERT as a 500.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed")
        return value


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MerchantCreate(_Input):
    name: Name
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN)] | None = Field(
        default=None, description="URL name; derived from the name when absent"
    )
    industry: Industry
    city: City
    status: MerchantStatus = MerchantStatus.ACTIVE
    contact_phone: Phone | None = None
    owner_name: Name
    owner_email: Email
    owner_password: Password


class MerchantStatusUpdate(_Input):
    status: MerchantStatus


class MerchantOut(_Output):
    id: int
    name: str
    slug: str
    industry: Industry
    status: MerchantStatus
    city: str
    contact_phone: str | None
    created_at: datetime


class MerchantPublic(_Output):
    """What a consumer may see of a merchant."""

    id: int
    name: str
    industry: Industry
    city: str
    status: MerchantStatus


Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class StoreCreate(_Input):
    name: Name
    city: City
    address: Address
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    status: StoreStatus = StoreStatus.OPEN


class StoreUpdate(_Input):
    name: Name | None = None
    city: City | None = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    status: StoreStatus | None = None


class StoreOut(_Output):
    id: int
    merchant_id: int
    name: str
    city: str
    address: str
    latitude: float | None
    longitude: float | None
    status: StoreStatus
    created_at: datetime


class StaffCreate(_Input):
    name: Name
    email: Email
    password: Password
    role: StaffRole = StaffRole.CLERK


class StaffUpdate(_Input):
    name: Name | None = None
    role: StaffRole | None = None
    active: bool | None = None


class StaffOut(_Output):
    id: int
    merchant_id: int
    name: str
    email: str
    role: StaffRole
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class StaffCredentials:
    staff_id: int
    merchant_id: int
    role: StaffRole
    name: str
    password_hash: str
    active: bool


@domain_event("merchant.created")
class MerchantCreated(DomainEvent):
    name: str
    slug: str
    industry: str
    city: str
    status: str


@domain_event("merchant.status_changed")
class MerchantStatusChanged(DomainEvent):
    old_status: str
    new_status: str


@domain_event("store.created")
class StoreCreated(DomainEvent):
    store_id: int
    name: str
    city: str


@domain_event("staff.created")
class StaffCreated(DomainEvent):
    staff_id: int
    role: str
