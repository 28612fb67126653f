from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ccare.core.signing import SignAlgorithm
from ccare.core.tenancy import Tenant, scoped
from ccare.openplatform.models import (
    AppAuthCode,
    AppAuthToken,
    AppKey,
    DeveloperApp,
    KeyStatus,
    OwnerKind,
    PlatformKey,
    SandboxAccount,
    TokenStatus,
)

Row = DeveloperApp | AppKey | PlatformKey | AppAuthCode | AppAuthToken | SandboxAccount


class OpenPlatformRepository:
    """Apps belong to their owner (checked by the service); tokens are the merchants' rows."""

    def __init__(self, db: Session, tenant: Tenant | None = None) -> None:
        self.db = db
        self.tenant = tenant

    def add(self, obj: Row) -> None:
        self.db.add(obj)
        self.db.flush()

    def app(self, app_id: str) -> DeveloperApp | None:
        return self.db.scalars(select(DeveloperApp).where(DeveloperApp.app_id == app_id)).first()

    def app_by_pk(self, pk: int) -> DeveloperApp | None:
        return self.db.get(DeveloperApp, pk)

    def apps_of(self, owner_kind: OwnerKind | None, owner_id: int | None) -> list[DeveloperApp]:
        stmt = select(DeveloperApp).order_by(DeveloperApp.id)
        if owner_kind is not None:
            stmt = stmt.where(
                DeveloperApp.owner_kind == owner_kind, DeveloperApp.owner_id == owner_id
            )
        return list(self.db.scalars(stmt))

    def apps_acting_for(self, merchant_id: int) -> list[DeveloperApp]:
        """A merchant's own apps and the ISV apps holding a live token for it."""
        tokens = select(AppAuthToken.app_pk).where(
            AppAuthToken.merchant_id == merchant_id, AppAuthToken.status == TokenStatus.ACTIVE
        )
        stmt = (
            select(DeveloperApp)
            .where(or_(DeveloperApp.merchant_id == merchant_id, DeveloperApp.id.in_(tokens)))
            .order_by(DeveloperApp.id)
        )
        return list(self.db.scalars(stmt))

    def keys(self, app_pk: int, *, usable_at: datetime | None = None) -> list[AppKey]:
        stmt = select(AppKey).where(AppKey.app_pk == app_pk).order_by(AppKey.id.desc())
        if usable_at is not None:
            stmt = stmt.where(
                or_(
                    AppKey.status == KeyStatus.ACTIVE,
                    (AppKey.status == KeyStatus.RETIRING) & (AppKey.expires_at > usable_at),
                )
            )
        return list(self.db.scalars(stmt))

    def retire_active_keys(self, app_pk: int, expires_at: datetime) -> list[AppKey]:
        active = list(
            self.db.scalars(
                select(AppKey).where(AppKey.app_pk == app_pk, AppKey.status == KeyStatus.ACTIVE)
            )
        )
        for key in active:
            key.status = KeyStatus.RETIRING
            key.expires_at = expires_at
        self.db.flush()
        return active

    def platform_key(self, algorithm: SignAlgorithm) -> PlatformKey | None:
        return self.db.scalars(
            select(PlatformKey).where(PlatformKey.algorithm == algorithm)
        ).first()

    def auth_code(self, code_hash: str) -> AppAuthCode | None:
        stmt = select(AppAuthCode).where(AppAuthCode.code_hash == code_hash)
        return self.db.scalars(stmt.with_for_update()).first()

    def use_code(self, code: AppAuthCode, now: datetime) -> bool:
        """Mark a code used; False if another request used it first."""
        result = self.db.execute(
            update(AppAuthCode)
            .where(AppAuthCode.id == code.id, AppAuthCode.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def token_by_hash(self, token_hash: str) -> AppAuthToken | None:
        stmt = select(AppAuthToken).where(AppAuthToken.token_hash == token_hash)
        return self.db.scalars(stmt).first()

    def token_by_refresh_hash(self, refresh_hash: str) -> AppAuthToken | None:
        stmt = select(AppAuthToken).where(AppAuthToken.refresh_hash == refresh_hash)
        return self.db.scalars(stmt.with_for_update()).first()

    def supersede_token(self, token: AppAuthToken) -> bool:
        result = self.db.execute(
            update(AppAuthToken)
            .where(AppAuthToken.id == token.id, AppAuthToken.status == TokenStatus.ACTIVE)
            .values(status=TokenStatus.REFRESHED)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def revoke_tokens_of_grant(self, grant_id: int) -> int:
        result = self.db.execute(
            update(AppAuthToken)
            .where(AppAuthToken.grant_id == grant_id, AppAuthToken.status == TokenStatus.ACTIVE)
            .values(status=TokenStatus.REVOKED)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def tokens(self, *, app_pks: Sequence[int] | None = None) -> list[AppAuthToken]:
        """Tokens visible to the tenant (a merchant sees the ones issued on its grants)."""
        stmt = select(AppAuthToken).order_by(AppAuthToken.id.desc())
        if app_pks is not None:
            stmt = stmt.where(AppAuthToken.app_pk.in_(list(app_pks)))
        if self.tenant is not None:
            stmt = scoped(stmt, AppAuthToken.merchant_id, self.tenant)
        return list(self.db.scalars(stmt))

    def sandbox_account(self, owner_kind: OwnerKind, owner_id: int) -> SandboxAccount | None:
        stmt = select(SandboxAccount).where(
            SandboxAccount.owner_kind == owner_kind, SandboxAccount.owner_id == owner_id
        )
        return self.db.scalars(stmt).first()

    def sandbox_account_of(
        self, *, merchant_id: int | None = None, isv_id: int | None = None
    ) -> SandboxAccount | None:
        stmt = select(SandboxAccount)
        if merchant_id is not None:
            stmt = stmt.where(SandboxAccount.merchant_id == merchant_id)
        if isv_id is not None:
            stmt = stmt.where(SandboxAccount.isv_id == isv_id)
        return self.db.scalars(stmt.limit(1)).first()
