from datetime import datetime

from pydantic import BaseModel, Field

from ccare.core.tenancy import PrincipalKind


class StaffLogin(BaseModel):
    email: str = Field(min_length=3, max_length=200)
    password: str = Field(min_length=1, max_length=200)


class ConsumerLogin(BaseModel):
    consumer_id: int = Field(gt=0, lt=2**62)


class SessionToken(BaseModel):
    token: str
    kind: PrincipalKind
    expires_at: datetime


class Me(BaseModel):
    kind: PrincipalKind
    id: int
    name: str
    merchant_id: int | None
    isv_id: int | None
    role: str | None
    merchant_ids: list[int] | None = Field(
        description="merchants this caller may act on; null means all (platform operator)"
    )


class OperatorCreate(BaseModel):
    email: str = Field(min_length=3, max_length=200)
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=8, max_length=200)
