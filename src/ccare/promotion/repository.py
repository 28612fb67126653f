"""Every query of the promotion platform; tenant rows only through `scoped()`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.promotion.models import AdCreative, AdGroup, AdPlan, ReviewStatus


class PromotionRepository:
    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    def plan(self, plan_id: int) -> AdPlan | None:
        stmt = select(AdPlan).where(AdPlan.id == plan_id)
        return self.db.scalars(scoped(stmt, AdPlan.merchant_id, self.tenant)).first()

    def plan_by_request_no(self, merchant_id: int, out_request_no: str) -> AdPlan | None:
        stmt = select(AdPlan).where(
            AdPlan.merchant_id == merchant_id, AdPlan.out_request_no == out_request_no
        )
        return self.db.scalars(scoped(stmt, AdPlan.merchant_id, self.tenant)).first()

    def plans(self, merchant_id: int | None = None) -> list[AdPlan]:
        stmt = select(AdPlan).order_by(AdPlan.id.desc())
        if merchant_id is not None:
            stmt = stmt.where(AdPlan.merchant_id == merchant_id)
        return list(self.db.scalars(scoped(stmt, AdPlan.merchant_id, self.tenant)))

    def group(self, group_id: int) -> AdGroup | None:
        stmt = select(AdGroup).where(AdGroup.id == group_id)
        return self.db.scalars(scoped(stmt, AdGroup.merchant_id, self.tenant)).first()

    def groups(self, plan_id: int) -> list[AdGroup]:
        stmt = select(AdGroup).where(AdGroup.plan_id == plan_id).order_by(AdGroup.id)
        return list(self.db.scalars(scoped(stmt, AdGroup.merchant_id, self.tenant)))

    def creative(self, creative_id: int) -> AdCreative | None:
        stmt = select(AdCreative).where(AdCreative.id == creative_id)
        return self.db.scalars(scoped(stmt, AdCreative.merchant_id, self.tenant)).first()

    def creatives(
        self, group_id: int | None = None, review_status: ReviewStatus | None = None
    ) -> list[AdCreative]:
        stmt = select(AdCreative).order_by(AdCreative.id)
        if group_id is not None:
            stmt = stmt.where(AdCreative.group_id == group_id)
        if review_status is not None:
            stmt = stmt.where(AdCreative.review_status == review_status)
        return list(self.db.scalars(scoped(stmt, AdCreative.merchant_id, self.tenant)))
