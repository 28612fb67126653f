from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.orders.models import Order, OrderDiscount, OrderLine, OrderStatus, Refund


class OrderRepository:
    """Tenant rows through `scoped()`; a consumer's reads add `consumer_id` on top.

    Lines, discounts and refunds are read for an `Order` the caller was already allowed
    to load, so they need no scope of their own.
    """

    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    def _orders(self, consumer_id: int | None = None) -> Select[Order]:
        stmt = scoped(select(Order), Order.merchant_id, self.tenant)
        if consumer_id is not None:
            stmt = stmt.where(Order.consumer_id == consumer_id)
        return stmt

    def order(
        self, order_id: int, *, consumer_id: int | None = None, for_update: bool = False
    ) -> Order | None:
        stmt = self._orders(consumer_id).where(Order.id == order_id)
        if for_update:
            # Serialises pay/close/refund/discount of one order; fresh values after the wait.
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.db.scalars(stmt).first()

    def orders(
        self,
        *,
        consumer_id: int | None = None,
        status: OrderStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Order]:
        stmt = self._orders(consumer_id)
        if status is not None:
            stmt = stmt.where(Order.status == status.value)
        stmt = stmt.order_by(Order.id.desc()).limit(limit).offset(offset)
        return list(self.db.scalars(stmt))

    def by_trade_no(self, trade_no: str) -> Order | None:
        return self.db.scalars(self._orders().where(Order.trade_no == trade_no)).first()

    def by_out_trade_no(self, merchant_id: int, out_trade_no: str) -> Order | None:
        stmt = self._orders().where(
            Order.merchant_id == merchant_id, Order.out_trade_no == out_trade_no
        )
        return self.db.scalars(stmt).first()

    def overdue_ids(self, now: datetime, limit: int) -> list[int]:
        stmt = (
            scoped(select(Order.id), Order.merchant_id, self.tenant)
            .where(Order.status == OrderStatus.CREATED.value, Order.expires_at < now)
            .order_by(Order.id)
            .limit(limit)
        )
        return list(self.db.scalars(stmt))

    def lines(self, order: Order) -> list[OrderLine]:
        return self.lines_of([order]).get(order.id, [])

    def discounts(self, order: Order) -> list[OrderDiscount]:
        return self.discounts_of([order]).get(order.id, [])

    def lines_of(self, orders: Sequence[Order]) -> dict[int, list[OrderLine]]:
        stmt = (
            select(OrderLine)
            .where(OrderLine.order_id.in_([o.id for o in orders]))
            .order_by(OrderLine.id)
        )
        found: dict[int, list[OrderLine]] = {}
        for line in self.db.scalars(stmt):
            found.setdefault(line.order_id, []).append(line)
        return found

    def discounts_of(self, orders: Sequence[Order]) -> dict[int, list[OrderDiscount]]:
        stmt = (
            select(OrderDiscount)
            .where(OrderDiscount.order_id.in_([o.id for o in orders]))
            .order_by(OrderDiscount.id)
        )
        found: dict[int, list[OrderDiscount]] = {}
        for discount in self.db.scalars(stmt):
            found.setdefault(discount.order_id, []).append(discount)
        return found

    def refunds(self, order: Order) -> list[Refund]:
        stmt = select(Refund).where(Refund.order_id == order.id).order_by(Refund.id)
        return list(self.db.scalars(stmt))

    def refund_by_request_no(self, order: Order, out_request_no: str) -> Refund | None:
        stmt = select(Refund).where(
            Refund.order_id == order.id, Refund.out_request_no == out_request_no
        )
        return self.db.scalars(stmt).first()

    def add(self, obj: Order | OrderLine | OrderDiscount | Refund) -> None:
        self.db.add(obj)
        self.db.flush()
