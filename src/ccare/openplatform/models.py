from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, IdMixin, JSONType, TimestampMixin, str_enum
from ccare.core.signing import SignAlgorithm
from ccare.core.time import utcnow


class AppMode(StrEnum):
    LIVE = "live"
    SANDBOX = "sandbox"


class AppStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class OwnerKind(StrEnum):
    MERCHANT = "merchant"
    ISV = "isv"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    # Replaced, but still accepted until `expires_at` so callers can roll their config.
    RETIRING = "retiring"
    REVOKED = "revoked"


class TokenStatus(StrEnum):
    ACTIVE = "active"
    # Replaced by a refresh: the new pair is the only valid one.
    REFRESHED = "refreshed"
    REVOKED = "revoked"


class DeveloperApp(IdMixin, TimestampMixin, Base):
    """An app calls the open API. Owner ids name the developer's account in the live world."""

    __tablename__ = "developer_apps"

    app_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[AppMode] = mapped_column(str_enum(AppMode))
    status: Mapped[AppStatus] = mapped_column(str_enum(AppStatus), default=AppStatus.ACTIVE)
    owner_kind: Mapped[OwnerKind] = mapped_column(str_enum(OwnerKind))
    owner_id: Mapped[int] = mapped_column(index=True)
    # Who the app acts for in its own world: a merchant app its merchant; an ISV app nobody
    # until a merchant's app auth token names one.
    merchant_id: Mapped[int | None]
    isv_id: Mapped[int | None]
    scopes: Mapped[list[str]] = mapped_column(JSONType)
    notify_url: Mapped[str | None] = mapped_column(String(500))


class AppKey(IdMixin, Base):
    __tablename__ = "developer_app_keys"
    __table_args__ = (UniqueConstraint("app_pk", "fingerprint"),)

    app_pk: Mapped[int] = mapped_column(ForeignKey("developer_apps.id"), index=True)
    algorithm: Mapped[SignAlgorithm] = mapped_column(str_enum(SignAlgorithm))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(80))
    status: Mapped[KeyStatus] = mapped_column(str_enum(KeyStatus), default=KeyStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]


class PlatformKey(IdMixin, Base):
    """The platform's own key pair per algorithm: signs responses and notifications."""

    __tablename__ = "platform_keys"

    algorithm: Mapped[SignAlgorithm] = mapped_column(str_enum(SignAlgorithm), unique=True)
    private_key: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppAuthCode(IdMixin, Base):
    """`app_auth_code`: single use, 24 hours, handed to the ISV by the merchant's consent."""

    __tablename__ = "app_auth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    app_pk: Mapped[int] = mapped_column(ForeignKey("developer_apps.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(index=True)
    grant_id: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AppAuthToken(IdMixin, Base):
    """`app_auth_token` + `app_refresh_token`, stored as hashes, bound to one grant."""

    __tablename__ = "app_auth_tokens"

    app_pk: Mapped[int] = mapped_column(ForeignKey("developer_apps.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(index=True)
    grant_id: Mapped[int] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[TokenStatus] = mapped_column(str_enum(TokenStatus), default=TokenStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime]


class SandboxAccount(IdMixin, Base):
    """A developer's twin in the sandbox world, keyed by their live-world owner account."""

    __tablename__ = "sandbox_accounts"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id"),)

    owner_kind: Mapped[OwnerKind] = mapped_column(str_enum(OwnerKind))
    owner_id: Mapped[int]
    merchant_id: Mapped[int]
    owner_staff_id: Mapped[int]
    mini_program_id: Mapped[int]
    isv_id: Mapped[int | None]
    isv_staff_id: Mapped[int | None]
    buyer_ids: Mapped[list[int]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
