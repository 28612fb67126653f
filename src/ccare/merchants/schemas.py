from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
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


class MerchantCreate(StrictInput):
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


class MerchantStatusUpdate(StrictInput):
    status: MerchantStatus


class MerchantOut(Output):
    id: int
    name: str
    slug: str
    industry: Industry
    status: MerchantStatus
    city: str
    contact_phone: str | None
    created_at: datetime


class MerchantPublic(Output):
    """What a consumer may see of a merchant."""

    id: int
    name: str
    industry: Industry
    city: str
    status: MerchantStatus


Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class StoreCreate(StrictInput):
    name: Name
    city: City
    address: Address
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    status: StoreStatus = StoreStatus.OPEN


class StoreUpdate(StrictInput):
    name: Name | None = None
    city: City | None = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    status: StoreStatus | None = None


class StoreOut(Output):
    id: int
    merchant_id: int
    name: str
    city: str
    address: str
    latitude: float | None
    longitude: float | None
    status: StoreStatus
    created_at: datetime


class StaffCreate(StrictInput):
    name: Name
    email: Email
    password: Password
    role: StaffRole = StaffRole.CLERK


class StaffUpdate(StrictInput):
    name: Name | None = None
    role: StaffRole | None = None
    active: bool | None = None


class StaffOut(Output):
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
