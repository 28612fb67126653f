from sqlalchemy import select
from sqlalchemy.orm import Session

from ccare.core.tenancy import Tenant, scoped
from ccare.isvs.models import GrantStatus, Isv, IsvGrant, IsvStaff, IsvStatus


class IsvRepository:
    """ISVs and their staff are platform rows; grants are the merchants' (scoped) rows."""

    def __init__(self, db: Session, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant

    def add(self, obj: Isv | IsvStaff | IsvGrant) -> None:
        self.db.add(obj)
        self.db.flush()

    def isv(self, isv_id: int) -> Isv | None:
        return self.db.scalars(select(Isv).where(Isv.id == isv_id)).first()

    def isvs(self, *, status: IsvStatus | None = None, isv_id: int | None = None) -> list[Isv]:
        stmt = select(Isv).order_by(Isv.id)
        if status is not None:
            stmt = stmt.where(Isv.status == status)
        if isv_id is not None:
            stmt = stmt.where(Isv.id == isv_id)
        return list(self.db.scalars(stmt))

    def staff(self, staff_id: int) -> IsvStaff | None:
        return self.db.scalars(select(IsvStaff).where(IsvStaff.id == staff_id)).first()

    def staff_of(self, isv_id: int) -> list[IsvStaff]:
        stmt = select(IsvStaff).where(IsvStaff.isv_id == isv_id).order_by(IsvStaff.id)
        return list(self.db.scalars(stmt))

    def staff_by_email(self, email: str) -> IsvStaff | None:
        return self.db.scalars(select(IsvStaff).where(IsvStaff.email == email.lower())).first()

    def grant(self, grant_id: int) -> IsvGrant | None:
        stmt = select(IsvGrant).where(IsvGrant.id == grant_id)
        return self.db.scalars(scoped(stmt, IsvGrant.merchant_id, self.tenant)).first()

    def active_grant(self, isv_id: int, merchant_id: int) -> IsvGrant | None:
        stmt = select(IsvGrant).where(
            IsvGrant.isv_id == isv_id,
            IsvGrant.merchant_id == merchant_id,
            IsvGrant.status == GrantStatus.ACTIVE,
        )
        return self.db.scalars(scoped(stmt, IsvGrant.merchant_id, self.tenant)).first()

    def grants(self, *, isv_id: int | None = None) -> list[IsvGrant]:
        stmt = select(IsvGrant).order_by(IsvGrant.id)
        if isv_id is not None:
            stmt = stmt.where(IsvGrant.isv_id == isv_id)
        return list(self.db.scalars(scoped(stmt, IsvGrant.merchant_id, self.tenant)))

    def granted_merchant_ids(self, isv_id: int) -> frozenset[int]:
        stmt = select(IsvGrant.merchant_id).where(
            IsvGrant.isv_id == isv_id, IsvGrant.status == GrantStatus.ACTIVE
        )
        return frozenset(self.db.scalars(scoped(stmt, IsvGrant.merchant_id, self.tenant)))
