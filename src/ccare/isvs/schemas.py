from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
)

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.isvs.models import GrantStatus, IsvStatus

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=200, pattern=EMAIL_PATTERN),
]
Scope = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.:]{0,39}$")]


def _dedupe(scopes: list[str]) -> list[str]:
    return sorted(set(scopes))


Scopes = Annotated[list[Scope], Field(min_length=1, max_length=20), AfterValidator(_dedupe)]


class IsvCreate(StrictInput):
    name: Name
    contact_email: Email
    staff_name: Name
    staff_email: Email
    staff_password: Annotated[str, StringConstraints(min_length=8, max_length=200)]


class IsvOut(Output):
    id: int
    name: str
    status: IsvStatus
    contact_email: str
    created_at: datetime


class GrantCreate(StrictInput):
    isv_id: int = Field(gt=0, lt=2**62)
    scopes: Scopes = Field(description="what the ISV may do, e.g. orders, catalog")


class GrantOut(Output):
    id: int
    isv_id: int
    merchant_id: int
    scopes: list[str]
    status: GrantStatus
    granted_by_staff_id: int | None
    granted_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IsvStaffCredentials:
    staff_id: int
    isv_id: int
    name: str
    password_hash: str
    active: bool


@domain_event("isv.created")
class IsvCreated(DomainEvent):
    isv_id: int
    name: str


@domain_event("isv.granted")
class IsvGranted(DomainEvent):
    isv_id: int
    grant_id: int
    scopes: list[str]


@domain_event("isv.revoked")
class IsvRevoked(DomainEvent):
    isv_id: int
    grant_id: int
