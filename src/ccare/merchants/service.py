"""Merchants, stores and staff.

Reads take a `Tenant`; writes take the acting `Principal`. A merchant outside the caller's
tenant is "not found" before any role check, so ids of other tenants never leak.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.security import hash_password
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, StaffRole, Tenant
from ccare.merchants.models import Industry, Merchant, MerchantStatus, Staff, Store
from ccare.merchants.repository import MerchantRepository
from ccare.merchants.schemas import (
    MerchantCreate,
    MerchantCreated,
    MerchantPublic,
    MerchantStatusChanged,
    StaffCreate,
    StaffCreated,
    StaffCredentials,
    StaffUpdate,
    StoreCreate,
    StoreCreated,
    StoreUpdate,
)

PLATFORM_KINDS = (PrincipalKind.OPERATOR, PrincipalKind.SYSTEM)


def require_operator(actor: Principal) -> None:
    if actor.kind not in PLATFORM_KINDS:
        raise Forbidden("platform operators only", code="auth.operator_only")


def require_manager(actor: Principal) -> None:
    if not actor.can_manage() or actor.kind == PrincipalKind.CONSUMER:
        raise Forbidden("owners and managers only", code="staff.role_forbidden")


def require_staff_admin(actor: Principal) -> None:
    """Console accounts are the merchant's own: an ISV could otherwise mint a login that
    outlives the revocation of its grant."""
    require_manager(actor)
    if actor.kind == PrincipalKind.ISV_STAFF:
        raise Forbidden("ISVs cannot manage a merchant's staff", code="staff.role_forbidden")


def _may_appoint_owners(actor: Principal) -> bool:
    return actor.kind in PLATFORM_KINDS or actor.role == StaffRole.OWNER


# --- merchants ---------------------------------------------------------------------------


def _slug_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-")
    return base or "merchant"


def _free_slug(repo: MerchantRepository, base: str) -> str:
    taken = repo.slugs_like(base)
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def email_taken(db: Session, email: str) -> bool:
    """One email signs in to one console, whichever product owns the account."""
    from ccare.isvs import service as isvs

    repo = MerchantRepository(db, PLATFORM)
    return (
        repo.staff_by_email(email) is not None or isvs.find_staff_credentials(db, email) is not None
    )


def create_merchant(db: Session, actor: Principal, data: MerchantCreate) -> Merchant:
    require_operator(actor)
    repo = MerchantRepository(db, PLATFORM)
    if data.slug is not None:
        if data.slug in repo.slugs_like(data.slug):
            raise Conflict("this slug is taken", code="merchant.slug_taken", slug=data.slug)
        slug = data.slug
    else:
        slug = _free_slug(repo, _slug_base(data.name))
    if email_taken(db, data.owner_email):
        raise Conflict("this email is taken", code="staff.email_taken")
    merchant = Merchant(
        name=data.name,
        slug=slug,
        industry=data.industry,
        status=data.status,
        city=data.city,
        contact_phone=data.contact_phone,
    )
    repo.add(merchant)
    emit(
        db,
        MerchantCreated(
            merchant_id=merchant.id,
            name=merchant.name,
            slug=slug,
            industry=merchant.industry,
            city=merchant.city,
            status=merchant.status,
        ),
    )
    owner = StaffCreate(
        name=data.owner_name,
        email=data.owner_email,
        password=data.owner_password,
        role=StaffRole.OWNER,
    )
    _add_staff(db, repo, merchant.id, owner)
    return merchant


def get_merchant(db: Session, tenant: Tenant, merchant_id: int) -> Merchant:
    merchant = MerchantRepository(db, tenant).merchant(merchant_id)
    if merchant is None:
        raise NotFound("no such merchant", code="merchant.not_found", merchant_id=merchant_id)
    return merchant


def merchant_for(db: Session, actor: Principal, requested: int | None, *, code: str) -> int:
    """The merchant a call is about: the one named, or the caller's own when it has just
    one. NotFound outside the caller's tenant, so merchant ids leak nothing; `code` is the
    calling product's error for "say which merchant"."""
    if requested is None:
        if actor.merchant_id is not None:
            requested = actor.merchant_id
        elif len(actor.tenant.merchant_ids) == 1 and not actor.tenant.all_merchants:
            requested = next(iter(actor.tenant.merchant_ids))
        else:
            raise InvalidInput("say which merchant: merchant_id", code=code)
    return get_merchant(db, actor.tenant, requested).id


def list_merchants(
    db: Session,
    tenant: Tenant,
    *,
    status: MerchantStatus | None = None,
    industry: Industry | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Merchant]:
    return MerchantRepository(db, tenant).merchants(
        status=status, industry=industry, limit=limit, offset=offset
    )


def set_merchant_status(
    db: Session, actor: Principal, merchant_id: int, status: MerchantStatus
) -> Merchant:
    require_operator(actor)
    merchant = get_merchant(db, actor.tenant, merchant_id)
    if merchant.status != status:
        old = merchant.status
        merchant.status = status
        db.flush()
        emit(
            db,
            MerchantStatusChanged(merchant_id=merchant.id, old_status=old, new_status=status),
        )
    return merchant


def public_merchant(db: Session, merchant_id: int) -> MerchantPublic | None:
    merchant = MerchantRepository(db, PLATFORM).merchant(merchant_id)
    return MerchantPublic.model_validate(merchant) if merchant else None


def active_merchant_ids(db: Session, merchant_ids: list[int]) -> frozenset[int]:
    """Which of these merchants are active (for public listings)."""
    if not merchant_ids:
        return frozenset()
    return MerchantRepository(db, PLATFORM).active_ids(sorted(set(merchant_ids)))


# --- stores ------------------------------------------------------------------------------


def create_store(db: Session, actor: Principal, merchant_id: int, data: StoreCreate) -> Store:
    get_merchant(db, actor.tenant, merchant_id)
    require_manager(actor)
    store = Store(merchant_id=merchant_id, **data.model_dump())
    MerchantRepository(db, actor.tenant).add(store)
    emit(
        db,
        StoreCreated(merchant_id=merchant_id, store_id=store.id, name=store.name, city=store.city),
    )
    return store


def list_stores(db: Session, tenant: Tenant, merchant_id: int) -> list[Store]:
    get_merchant(db, tenant, merchant_id)
    return MerchantRepository(db, tenant).stores(merchant_id)


def get_store(db: Session, tenant: Tenant, store_id: int) -> Store:
    store = MerchantRepository(db, tenant).store(store_id)
    if store is None:
        raise NotFound("no such store", code="store.not_found", store_id=store_id)
    return store


def update_store(db: Session, actor: Principal, store_id: int, data: StoreUpdate) -> Store:
    store = get_store(db, actor.tenant, store_id)
    require_manager(actor)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field not in ("latitude", "longitude"):
            continue
        setattr(store, field, value)
    db.flush()
    return store


# --- staff -------------------------------------------------------------------------------


def _add_staff(db: Session, repo: MerchantRepository, merchant_id: int, data: StaffCreate) -> Staff:
    staff = Staff(
        merchant_id=merchant_id,
        name=data.name,
        email=data.email.lower(),
        password_hash=hash_password(data.password),
        role=data.role,
        active=True,
    )
    repo.add(staff)
    emit(db, StaffCreated(merchant_id=merchant_id, staff_id=staff.id, role=staff.role))
    return staff


def create_staff(db: Session, actor: Principal, merchant_id: int, data: StaffCreate) -> Staff:
    get_merchant(db, actor.tenant, merchant_id)
    require_staff_admin(actor)
    if data.role == StaffRole.OWNER and not _may_appoint_owners(actor):
        raise Forbidden("only owners may appoint owners", code="staff.role_forbidden")
    if email_taken(db, data.email):
        raise Conflict("this email is taken", code="staff.email_taken")
    return _add_staff(db, MerchantRepository(db, actor.tenant), merchant_id, data)


def list_staff(db: Session, tenant: Tenant, merchant_id: int) -> list[Staff]:
    get_merchant(db, tenant, merchant_id)
    return MerchantRepository(db, tenant).staff_of(merchant_id)


def get_staff(db: Session, tenant: Tenant, staff_id: int) -> Staff:
    staff = MerchantRepository(db, tenant).staff(staff_id)
    if staff is None:
        raise NotFound("no such staff member", code="staff.not_found", staff_id=staff_id)
    return staff


def update_staff(db: Session, actor: Principal, staff_id: int, data: StaffUpdate) -> Staff:
    repo = MerchantRepository(db, actor.tenant)
    staff = get_staff(db, actor.tenant, staff_id)
    require_staff_admin(actor)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    touches_owner = staff.role == StaffRole.OWNER or changes.get("role") == StaffRole.OWNER
    if touches_owner and not _may_appoint_owners(actor):
        raise Forbidden("only owners may change owners", code="staff.role_forbidden")
    stays_owner = changes.get("role", staff.role) == StaffRole.OWNER and changes.get(
        "active", staff.active
    )
    if staff.role == StaffRole.OWNER and staff.active and not stays_owner:
        others = [
            s
            for s in repo.staff_of(staff.merchant_id)
            if s.id != staff.id and s.role == StaffRole.OWNER and s.active
        ]
        if not others:
            raise Conflict("a merchant keeps at least one active owner", code="staff.last_owner")
    for field, value in changes.items():
        setattr(staff, field, value)
    db.flush()
    return staff


def find_staff_credentials(db: Session, email: str) -> StaffCredentials | None:
    staff = MerchantRepository(db, PLATFORM).staff_by_email(email.strip())
    if staff is None:
        return None
    return StaffCredentials(
        staff_id=staff.id,
        merchant_id=staff.merchant_id,
        role=staff.role,
        name=staff.name,
        password_hash=staff.password_hash,
        active=staff.active,
    )


def staff_principal(db: Session, staff_id: int) -> Principal | None:
    staff = MerchantRepository(db, PLATFORM).staff(staff_id)
    if staff is None or not staff.active:
        return None
    return Principal(
        kind=PrincipalKind.MERCHANT_STAFF,
        id=staff.id,
        name=staff.name,
        merchant_id=staff.merchant_id,
        role=staff.role,
        tenant=Tenant(frozenset({staff.merchant_id})),
    )
