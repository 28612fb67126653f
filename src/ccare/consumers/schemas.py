from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from ccare.consumers.models import MAX_CREDIT_SCORE, MIN_CREDIT_SCORE, DevicePlatform, MemberLevel
from ccare.core.events import DomainEvent, domain_event


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


class ConsumerCreate(_Input):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{5,19}$")]
    member_level: MemberLevel = MemberLevel.PUBLIC
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    credit_score: int = Field(default=600, ge=MIN_CREDIT_SCORE, le=MAX_CREDIT_SCORE)


class ConsumerOut(_Output):
    id: int
    name: str
    phone: str
    member_level: MemberLevel
    city: str
    credit_score: int
    created_at: datetime


class DeviceRegister(_Input):
    device_id: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    ]
    platform: DevicePlatform


class DeviceOut(_Output):
    id: int
    consumer_id: int
    device_id: str
    platform: DevicePlatform
    first_seen_at: datetime


@domain_event("consumer.registered")
class ConsumerRegistered(DomainEvent):
    city: str
    member_level: str
