"""Who is calling, and which merchants' rows they may touch.

Every repository query on tenant-owned rows goes through `scoped()`; there is no other
way to read or write another product's tenant rows. An empty tenant sees nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Delete, Select, Update, false

from ccare.core.errors import Forbidden

S = TypeVar("S", Select[Any], Update, Delete)


class PrincipalKind(StrEnum):
    OPERATOR = "operator"
    MERCHANT_STAFF = "merchant_staff"
    ISV_STAFF = "isv_staff"
    CONSUMER = "consumer"
    # A developer app's signed call: acts for one merchant (its own, or the one whose app
    # auth token it sends) within its scopes.
    APP = "app"
    SYSTEM = "system"


class StaffRole(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    CLERK = "clerk"


@dataclass(frozen=True)
class Tenant:
    """The set of merchant ids a caller may act on; `all_merchants` only for the platform."""

    merchant_ids: frozenset[int] = frozenset()
    all_merchants: bool = False

    def allows(self, merchant_id: int) -> bool:
        return self.all_merchants or merchant_id in self.merchant_ids

    def require(self, merchant_id: int) -> None:
        if not self.allows(merchant_id):
            raise Forbidden("not allowed to act for this merchant", code="tenancy.forbidden")


PLATFORM = Tenant(all_merchants=True)


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: int
    name: str = ""
    merchant_id: int | None = None
    isv_id: int | None = None
    role: StaffRole | None = None
    tenant: Tenant = field(default_factory=Tenant)
    app_id: str | None = None
    # None = not limited by scopes (people); for apps, the product tags they may call.
    scopes: frozenset[str] | None = None

    @property
    def is_operator(self) -> bool:
        return self.kind == PrincipalKind.OPERATOR

    def can_manage(self) -> bool:
        """Owners, managers, operators and ISVs acting on a grant may change settings."""
        return self.kind != PrincipalKind.MERCHANT_STAFF or self.role != StaffRole.CLERK


SYSTEM = Principal(kind=PrincipalKind.SYSTEM, id=0, name="system", tenant=PLATFORM)


def scoped(stmt: S, merchant_column: Any, tenant: Tenant) -> S:
    """Restrict a SELECT, UPDATE or DELETE to the tenant's merchants."""
    if tenant.all_merchants:
        return stmt
    if not tenant.merchant_ids:
        return stmt.where(false())
    return stmt.where(merchant_column.in_(sorted(tenant.merchant_ids)))
