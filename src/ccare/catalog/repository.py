from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.catalog.models import Item, ItemStatus, MiniProgram, MiniProgramStatus, StorefrontVisit
from ccare.core.tenancy import Tenant, scoped


class CatalogRepository:
    def __init__(self, db: Session, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant

    def add(self, obj: MiniProgram | Item) -> None:
        self.db.add(obj)
        self.db.flush()

    def app_id_taken(self, app_id: str) -> bool:
        stmt = select(MiniProgram.id).where(MiniProgram.app_id == app_id)
        return (
            self.db.execute(scoped(stmt, MiniProgram.merchant_id, self.tenant)).first() is not None
        )

    def mini_program(self, mini_program_id: int) -> MiniProgram | None:
        stmt = select(MiniProgram).where(MiniProgram.id == mini_program_id)
        return self.db.scalars(scoped(stmt, MiniProgram.merchant_id, self.tenant)).first()

    def mini_programs(self, merchant_id: int | None = None) -> list[MiniProgram]:
        stmt = select(MiniProgram).order_by(MiniProgram.id)
        if merchant_id is not None:
            stmt = stmt.where(MiniProgram.merchant_id == merchant_id)
        return list(self.db.scalars(scoped(stmt, MiniProgram.merchant_id, self.tenant)))

    def mini_programs_by_id(self, ids: list[int]) -> list[MiniProgram]:
        stmt = select(MiniProgram).where(MiniProgram.id.in_(ids)).order_by(MiniProgram.id)
        return list(self.db.scalars(scoped(stmt, MiniProgram.merchant_id, self.tenant)))

    def online_mini_programs(
        self, *, city: str | None, q: str | None, limit: int
    ) -> list[MiniProgram]:
        stmt = (
            select(MiniProgram)
            .where(MiniProgram.status == MiniProgramStatus.ONLINE)
            .order_by(MiniProgram.id)
            .limit(limit)
        )
        if city:
            stmt = stmt.where(MiniProgram.city == city)
        if q:
            stmt = stmt.where(
                or_(
                    MiniProgram.name.icontains(q, autoescape=True),
                    MiniProgram.category.icontains(q, autoescape=True),
                )
            )
        return list(self.db.scalars(scoped(stmt, MiniProgram.merchant_id, self.tenant)))

    def item(self, item_id: int) -> Item | None:
        stmt = select(Item).where(Item.id == item_id)
        return self.db.scalars(scoped(stmt, Item.merchant_id, self.tenant)).first()

    def items(self, mini_program_id: int, status: ItemStatus | None = None) -> list[Item]:
        stmt = select(Item).where(Item.mini_program_id == mini_program_id).order_by(Item.id)
        if status is not None:
            stmt = stmt.where(Item.status == status)
        return list(self.db.scalars(scoped(stmt, Item.merchant_id, self.tenant)))

    def items_by_id(self, item_ids: list[int]) -> dict[int, Item]:
        stmt = select(Item).where(Item.id.in_(item_ids))
        return {i.id: i for i in self.db.scalars(scoped(stmt, Item.merchant_id, self.tenant))}

    def take_stock(self, item_id: int, quantity: int) -> bool:
        """One conditional UPDATE: the database decides, so concurrent buyers cannot oversell."""
        stmt = (
            update(Item)
            .where(Item.id == item_id, or_(Item.stock.is_(None), Item.stock >= quantity))
            .values(stock=Item.stock - quantity)
            .execution_options(synchronize_session=False)
        )
        result = self.db.execute(scoped(stmt, Item.merchant_id, self.tenant))
        self._expire(item_id)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def put_back_stock(self, item_id: int, quantity: int) -> None:
        stmt = (
            update(Item)
            .where(Item.id == item_id, Item.stock.is_not(None))
            .values(stock=Item.stock + quantity)
            .execution_options(synchronize_session=False)
        )
        self.db.execute(scoped(stmt, Item.merchant_id, self.tenant))
        self._expire(item_id)

    def add_sales(self, item_id: int, quantity: int) -> None:
        stmt = (
            update(Item)
            .where(Item.id == item_id)
            .values(sold_count=Item.sold_count + quantity)
            .execution_options(synchronize_session=False)
        )
        self.db.execute(scoped(stmt, Item.merchant_id, self.tenant))
        self._expire(item_id)

    def record_visit(
        self,
        consumer_id: int,
        mini_program: MiniProgram,
        now: datetime,
        last_before: datetime,
    ) -> bool:
        """Record a visit unless one was recorded after `last_before`; True when recorded.
        The first visit inserts the row (a concurrent one finds it and does nothing); later
        ones move it by one conditional UPDATE, which a concurrent open cannot also pass."""
        postgres = self.db.get_bind().dialect.name == "postgresql"
        insert = pg_insert if postgres else sqlite_insert
        first = self.db.execute(
            insert(StorefrontVisit)
            .values(
                consumer_id=consumer_id,
                mini_program_id=mini_program.id,
                merchant_id=mini_program.merchant_id,
                last_visit_at=now,
                visits=1,
            )
            .on_conflict_do_nothing(index_elements=["consumer_id", "mini_program_id"])
            .returning(StorefrontVisit.consumer_id)
        ).first()
        if first is not None:
            return True
        stmt = (
            update(StorefrontVisit)
            .where(
                StorefrontVisit.consumer_id == consumer_id,
                StorefrontVisit.mini_program_id == mini_program.id,
                StorefrontVisit.last_visit_at <= last_before,
            )
            .values(last_visit_at=now, visits=StorefrontVisit.visits + 1)
            .execution_options(synchronize_session=False)
        )
        result = self.db.execute(scoped(stmt, StorefrontVisit.merchant_id, self.tenant))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def visit(self, consumer_id: int, mini_program_id: int) -> StorefrontVisit | None:
        stmt = select(StorefrontVisit).where(
            StorefrontVisit.consumer_id == consumer_id,
            StorefrontVisit.mini_program_id == mini_program_id,
        )
        return self.db.scalars(scoped(stmt, StorefrontVisit.merchant_id, self.tenant)).first()

    def _expire(self, item_id: int) -> None:
        # The UPDATE bypassed the identity map; reload a cached Item on next access.
        cached = self.db.identity_map.get(self.db.identity_key(Item, item_id))
        if cached is not None:
            self.db.expire(cached)
