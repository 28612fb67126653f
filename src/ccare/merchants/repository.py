from sqlalchemy import select
from sqlalchemy.orm import Session

from ccare.core.tenancy import Tenant, scoped
from ccare.merchants.models import Industry, Merchant, MerchantStatus, Staff, Store


class MerchantRepository:
    def __init__(self, db: Session, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant

    def add(self, obj: Merchant | Store | Staff) -> None:
        self.db.add(obj)
        self.db.flush()

    def merchant(self, merchant_id: int) -> Merchant | None:
        stmt = select(Merchant).where(Merchant.id == merchant_id)
        return self.db.scalars(scoped(stmt, Merchant.id, self.tenant)).first()

    def merchants(
        self, *, status: MerchantStatus | None, industry: Industry | None, limit: int, offset: int
    ) -> list[Merchant]:
        stmt = select(Merchant).order_by(Merchant.id).limit(limit).offset(offset)
        if status:
            stmt = stmt.where(Merchant.status == status)
        if industry:
            stmt = stmt.where(Merchant.industry == industry)
        return list(self.db.scalars(scoped(stmt, Merchant.id, self.tenant)))

    def active_ids(self, merchant_ids: list[int]) -> frozenset[int]:
        stmt = select(Merchant.id).where(
            Merchant.id.in_(merchant_ids), Merchant.status == MerchantStatus.ACTIVE
        )
        return frozenset(self.db.scalars(scoped(stmt, Merchant.id, self.tenant)))

    def slugs_like(self, base: str) -> set[str]:
        stmt = select(Merchant.slug).where(Merchant.slug.startswith(base, autoescape=True))
        return set(self.db.scalars(scoped(stmt, Merchant.id, self.tenant)))

    def store(self, store_id: int) -> Store | None:
        stmt = select(Store).where(Store.id == store_id)
        return self.db.scalars(scoped(stmt, Store.merchant_id, self.tenant)).first()

    def stores(self, merchant_id: int) -> list[Store]:
        stmt = select(Store).where(Store.merchant_id == merchant_id).order_by(Store.id)
        return list(self.db.scalars(scoped(stmt, Store.merchant_id, self.tenant)))

    def staff(self, staff_id: int) -> Staff | None:
        stmt = select(Staff).where(Staff.id == staff_id)
        return self.db.scalars(scoped(stmt, Staff.merchant_id, self.tenant)).first()

    def staff_by_email(self, email: str) -> Staff | None:
        stmt = select(Staff).where(Staff.email == email.lower())
        return self.db.scalars(scoped(stmt, Staff.merchant_id, self.tenant)).first()

    def staff_of(self, merchant_id: int) -> list[Staff]:
        stmt = select(Staff).where(Staff.merchant_id == merchant_id).order_by(Staff.id)
        return list(self.db.scalars(scoped(stmt, Staff.merchant_id, self.tenant)))
