from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from ccare.core.events import DomainEvent, domain_event
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


class IsvCreate(_Input):
    name: Name
    contact_email: Email
    staff_name: Name
    staff_email: Email
    staff_password: Annotated[str, StringConstraints(min_length=8, max_length=200)]


class IsvOut(_Output):
    id: int
    name: str
    status: IsvStatus
    contact_email: str
    created_at: datetime


class GrantCreate(_Input):
    isv_id: int = Field(gt=0, lt=2**62)
    scopes: Scopes = Field(description="what the ISV may do, e.g. orders, catalog")


class GrantOut(_Output):
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
