from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from ccare.consumers.models import MAX_CREDIT_SCORE, MIN_CREDIT_SCORE, DevicePlatform, MemberLevel
from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput


class ConsumerCreate(StrictInput):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{5,19}$")]
    member_level: MemberLevel = MemberLevel.PUBLIC
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    credit_score: int = Field(default=600, ge=MIN_CREDIT_SCORE, le=MAX_CREDIT_SCORE)


class ConsumerOut(Output):
    id: int
    name: str
    phone: str
    member_level: MemberLevel
    city: str
    credit_score: int
    created_at: datetime


class DeviceRegister(StrictInput):
    device_id: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    ]
    platform: DevicePlatform


class DeviceOut(Output):
    id: int
    consumer_id: int
    device_id: str
    platform: DevicePlatform
    first_seen_at: datetime


class PaymentCodeOut(BaseModel):
    auth_code: str = Field(description="18 digits starting with 28; the merchant scans it")
    buyer_id: str = Field(description="the buyer's 16-digit id, as merchants see it")
    expires_at: datetime
    expires_in: int = Field(description="seconds")


@domain_event("consumer.registered")
class ConsumerRegistered(DomainEvent):
    city: str
    member_level: str
