"""ISVs act for merchants only through grants those merchants gave and can revoke.

An ISV staff member's tenant is recomputed from the active grants on every request
(`staff_principal`), so a revocation takes effect on the ISV's very next call.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden, NotFound
from ccare.core.outbox import emit
from ccare.core.security import hash_password
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, Tenant
from ccare.core.time import utcnow
from ccare.isvs.models import GrantStatus, Isv, IsvGrant, IsvStaff, IsvStatus
from ccare.isvs.repository import IsvRepository
from ccare.isvs.schemas import IsvCreate, IsvCreated, IsvGranted, IsvRevoked, IsvStaffCredentials

PLATFORM_KINDS = (PrincipalKind.OPERATOR, PrincipalKind.SYSTEM)


def create_isv(db: Session, actor: Principal, data: IsvCreate) -> Isv:
    from ccare.merchants import service as merchants

    if actor.kind not in PLATFORM_KINDS:
        raise Forbidden("platform operators only", code="auth.operator_only")
    if merchants.email_taken(db, data.staff_email):
        raise Conflict("this email is taken", code="staff.email_taken")
    repo = IsvRepository(db, PLATFORM)
    isv = Isv(name=data.name, contact_email=data.contact_email, status=IsvStatus.ACTIVE)
    repo.add(isv)
    repo.add(
        IsvStaff(
            isv_id=isv.id,
            name=data.staff_name,
            email=data.staff_email.lower(),
            password_hash=hash_password(data.staff_password),
            active=True,
        )
    )
    emit(db, IsvCreated(isv_id=isv.id, name=isv.name))
    return isv


def list_isvs(db: Session, actor: Principal) -> list[Isv]:
    """Operators see every ISV, an ISV itself, merchants the active ones they may grant."""
    repo = IsvRepository(db, PLATFORM)
    if actor.kind in PLATFORM_KINDS:
        return repo.isvs()
    if actor.kind == PrincipalKind.ISV_STAFF:
        return repo.isvs(isv_id=actor.isv_id)
    if actor.kind == PrincipalKind.MERCHANT_STAFF:
        return repo.isvs(status=IsvStatus.ACTIVE)
    return []


def get_isv(db: Session, actor: Principal, isv_id: int) -> Isv:
    isv = next((i for i in list_isvs(db, actor) if i.id == isv_id), None)
    if actor.kind == PrincipalKind.MERCHANT_STAFF and isv is None:
        # A merchant still sees an ISV it has granted, even once suspended.
        candidate = IsvRepository(db, PLATFORM).isv(isv_id)
        if candidate and IsvRepository(db, actor.tenant).grants(isv_id=isv_id):
            isv = candidate
    if isv is None:
        raise NotFound("no such ISV", code="isv.not_found", isv_id=isv_id)
    return isv


def list_isv_staff(db: Session, isv_id: int) -> list[IsvStaff]:
    return IsvRepository(db, PLATFORM).staff_of(isv_id)


def grant_isv(db: Session, actor: Principal, isv_id: int, scopes: Sequence[str]) -> IsvGrant:
    """The actor's merchant grants (or re-scopes its grant to) the ISV."""
    if actor.kind != PrincipalKind.MERCHANT_STAFF or actor.merchant_id is None:
        raise Forbidden("only a merchant's staff grant ISVs", code="isv.grant_merchant_only")
    if not actor.can_manage():
        raise Forbidden("owners and managers only", code="staff.role_forbidden")
    isv = IsvRepository(db, PLATFORM).isv(isv_id)
    if isv is None:
        raise NotFound("no such ISV", code="isv.not_found", isv_id=isv_id)
    if isv.status != IsvStatus.ACTIVE:
        raise Conflict("this ISV is suspended", code="isv.suspended", isv_id=isv_id)
    repo = IsvRepository(db, actor.tenant)
    scopes = sorted(set(scopes))
    grant = repo.active_grant(isv_id, actor.merchant_id)
    if grant is None:
        grant = IsvGrant(
            isv_id=isv_id,
            merchant_id=actor.merchant_id,
            scopes=scopes,
            status=GrantStatus.ACTIVE,
            granted_by_staff_id=actor.id,
            granted_at=utcnow(),
        )
        repo.add(grant)
    else:
        grant.scopes = scopes
        grant.granted_by_staff_id = actor.id
        db.flush()
    emit(
        db,
        IsvGranted(merchant_id=grant.merchant_id, isv_id=isv_id, grant_id=grant.id, scopes=scopes),
    )
    return grant


def _visible_grant(db: Session, actor: Principal, grant_id: int) -> IsvGrant:
    if actor.kind == PrincipalKind.ISV_STAFF:
        grant = IsvRepository(db, PLATFORM).grant(grant_id)
        if grant is not None and grant.isv_id != actor.isv_id:
            grant = None
    else:
        grant = IsvRepository(db, actor.tenant).grant(grant_id)
    if grant is None:
        raise NotFound("no such grant", code="isv_grant.not_found", grant_id=grant_id)
    return grant


def revoke_grant(db: Session, actor: Principal, grant_id: int) -> IsvGrant:
    """The merchant (owner/manager), the operator, or the ISV itself ends a grant."""
    grant = _visible_grant(db, actor, grant_id)
    if not actor.can_manage() or actor.kind == PrincipalKind.CONSUMER:
        raise Forbidden("owners and managers only", code="staff.role_forbidden")
    if grant.status == GrantStatus.ACTIVE:
        grant.status = GrantStatus.REVOKED
        grant.revoked_at = utcnow()
        db.flush()
        emit(db, IsvRevoked(merchant_id=grant.merchant_id, isv_id=grant.isv_id, grant_id=grant.id))
    return grant


def list_grants(db: Session, principal: Principal) -> list[IsvGrant]:
    if principal.kind == PrincipalKind.ISV_STAFF:
        return IsvRepository(db, PLATFORM).grants(isv_id=principal.isv_id)
    if principal.kind == PrincipalKind.CONSUMER:
        return []
    return IsvRepository(db, principal.tenant).grants()


def granted_merchant_ids(db: Session, isv_id: int) -> frozenset[int]:
    return IsvRepository(db, PLATFORM).granted_merchant_ids(isv_id)


def find_staff_credentials(db: Session, email: str) -> IsvStaffCredentials | None:
    staff = IsvRepository(db, PLATFORM).staff_by_email(email.strip())
    if staff is None:
        return None
    return IsvStaffCredentials(
        staff_id=staff.id,
        isv_id=staff.isv_id,
        name=staff.name,
        password_hash=staff.password_hash,
        active=staff.active,
    )


def staff_principal(db: Session, isv_staff_id: int) -> Principal | None:
    repo = IsvRepository(db, PLATFORM)
    staff = repo.staff(isv_staff_id)
    if staff is None or not staff.active:
        return None
    isv = repo.isv(staff.isv_id)
    # A suspended ISV can still sign in and see itself, but acts for no merchant.
    merchant_ids = (
        granted_merchant_ids(db, staff.isv_id)
        if isv is not None and isv.status == IsvStatus.ACTIVE
        else frozenset()
    )
    return Principal(
        kind=PrincipalKind.ISV_STAFF,
        id=staff.id,
        name=staff.name,
        isv_id=staff.isv_id,
        tenant=Tenant(merchant_ids),
    )


def active_grant_scopes(db: Session, grant_id: int) -> list[str] | None:
    """The scopes of a live grant of an active ISV; None once revoked or suspended."""
    repo = IsvRepository(db, PLATFORM)
    grant = repo.grant(grant_id)
    if grant is None or grant.status != GrantStatus.ACTIVE:
        return None
    isv = repo.isv(grant.isv_id)
    if isv is None or isv.status != IsvStatus.ACTIVE:
        return None
    return list(grant.scopes)
