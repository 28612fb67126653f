from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput
from ccare.core.signing import SignAlgorithm
from ccare.openplatform.models import AppMode, AppStatus, KeyStatus, OwnerKind, TokenStatus

# The product tags an app may call; a route's first tag is its scope.
SCOPES = (
    "catalog",
    "merchants",
    "orders",
    "ledger",
    "isvs",
    "webhooks",
    "coupons",
    "profiles",
    "favorites",
    "messages",
    "segments",
    "campaigns",
    "dashboard",
    "promotion",
    "brand_bookings",
    "star_points",
)
DEFAULT_SCOPES = ["catalog", "orders"]


def _known_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {list(SCOPES)}")
    return sorted(set(scopes))


Scopes = Annotated[
    list[Annotated[str, StringConstraints(max_length=40)]],
    Field(min_length=1, max_length=len(SCOPES)),
    AfterValidator(_known_scopes),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
NotifyUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^https?://[^\s]+$")
]
PublicKeyText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=40, max_length=8000)
]


class AppCreate(StrictInput):
    name: Name
    mode: AppMode = AppMode.LIVE
    scopes: Scopes = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    notify_url: NotifyUrl | None = None
    public_key: PublicKeyText | None = Field(
        default=None, description="RSA (PKCS#1, PKCS#8/SPKI PEM or bare base64) or Ed25519"
    )


class AppUpdate(StrictInput):
    name: Name | None = None
    scopes: Scopes | None = None
    notify_url: NotifyUrl | None = None
    status: AppStatus | None = None


class KeyUpload(StrictInput):
    public_key: PublicKeyText
    overlap_hours: int = Field(
        default=24, ge=0, le=168, description="how long the replaced key is still accepted"
    )


class KeyOut(Output):
    id: int
    algorithm: SignAlgorithm
    public_key: str
    fingerprint: str
    status: KeyStatus
    created_at: datetime
    expires_at: datetime | None


class AppOut(Output):
    id: int
    app_id: str
    name: str
    mode: AppMode
    status: AppStatus
    owner_kind: OwnerKind
    owner_id: int
    merchant_id: int | None
    isv_id: int | None
    scopes: list[str]
    notify_url: str | None
    created_at: datetime


class PlatformKeyOut(BaseModel):
    algorithm: SignAlgorithm
    format: str
    public_key: str
    fingerprint: str


class AuthorizeApp(StrictInput):
    app_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{16}$")]
    scopes: Scopes | None = Field(default=None, description="default: the app's scopes")


class AuthCodeOut(BaseModel):
    app_auth_code: str
    app_id: str
    merchant_id: int
    grant_id: int
    expires_at: datetime


class TokenRequest(StrictInput):
    grant_type: Literal["authorization_code", "refresh_token"]
    code: Annotated[str, StringConstraints(max_length=100)] | None = None
    refresh_token: Annotated[str, StringConstraints(max_length=100)] | None = None


class TokenOut(BaseModel):
    app_auth_token: str
    app_refresh_token: str
    auth_app_id: str
    user_id: str
    merchant_id: int
    expires_in: int
    re_expires_in: int


class TokenQuery(StrictInput):
    app_auth_token: Annotated[str, StringConstraints(max_length=100)]


class TokenInfo(BaseModel):
    auth_app_id: str
    user_id: str
    merchant_id: int
    status: Literal["valid", "invalid"]
    scopes: list[str]
    auth_start: datetime
    auth_end: datetime
    expires_in: int


class AppTokenOut(Output):
    """A token as the consoles list it: never the secret itself."""

    id: int
    app_pk: int
    merchant_id: int
    grant_id: int
    status: TokenStatus
    created_at: datetime
    expires_at: datetime


class SandboxBuyer(BaseModel):
    consumer_id: int
    buyer_id: str
    balance_fen: int


class SandboxAccountOut(BaseModel):
    """Your twin in the sandbox world: act as its merchant, pay as its buyers."""

    merchant_id: int
    mini_program_id: int
    isv_id: int | None
    buyers: list[SandboxBuyer]


@domain_event("openplatform.app_created")
class AppCreated(DomainEvent):
    app_id: str
    mode: str
    owner_kind: str
    owner_id: int


@domain_event("openplatform.key_rotated")
class AppKeyRotated(DomainEvent):
    app_id: str
    fingerprint: str
    retiring: list[str]


@domain_event("openplatform.app_authorized")
class AppAuthorized(DomainEvent):
    app_id: str
    grant_id: int
    scopes: list[str]
