"""Random sequences of top-ups, orders, payments, refunds, discounts and closes keep the
books straight after every step."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.ledger import service as ledger
from ccare.ledger.models import Account, AccountKind
from ccare.orders import service
from ccare.orders.models import Order, OrderStatus
from ccare.orders.schemas import LineIn, OrderCreate, RefundCreate
from tests.factories import make_consumer
from tests.orders.conftest import as_consumer, open_shop, staff

PAID_STATES = (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED)


def test_books_balance_under_random_operations(db: Database) -> None:
    shop = open_shop(db)
    owner = staff(db, shop.merchant.owner_staff_id)

    class Books(RuleBasedStateMachine):
        @initialize()
        def new_consumer(self) -> None:
            self.consumer = as_consumer(make_consumer(db))
            self.wallet = 0
            self.orders: list[int] = []
            self.requests = 0

        def _order(self, index: int) -> Order:
            with db.transaction() as s:
                order = s.get(Order, self.orders[index % len(self.orders)])
                assert order is not None
                return order

        @rule(amount=st.integers(1, 4_000))
        def top_up(self, amount: int) -> None:
            with db.transaction() as s:
                ledger.top_up(s, self.consumer.id, amount, "prop")
            self.wallet += amount

        @rule(plain=st.integers(0, 3), scarce=st.integers(0, 4))
        def create(self, plain: int, scarce: int) -> None:
            lines = [(shop.item_id, plain), (shop.scarce_item_id, scarce)]
            data = OrderCreate(
                mini_program_id=shop.mini_program_id,
                lines=[LineIn(item_id=i, quantity=q) for i, q in lines if q]
                or [LineIn(item_id=shop.item_id, quantity=1)],
            )
            try:
                with db.transaction() as s:
                    self.orders.append(service.create_order(s, self.consumer, data).id)
            except DomainError as err:
                assert err.code == "catalog.out_of_stock"

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50), amount=st.integers(1, 3_000))
        def discount(self, index: int, amount: int) -> None:
            order = self._order(index)
            self.requests += 1
            try:
                with db.transaction() as s:
                    service.apply_discount(s, order.id, "coupon", f"d{self.requests}", amount)
            except DomainError as err:
                assert err.code in ("order.not_discountable", "order.discount_exceeds_amount")
                assert order.status != OrderStatus.CREATED or amount > order.payable_fen

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50))
        def pay(self, index: int) -> None:
            order = self._order(index)
            try:
                with db.transaction() as s:
                    service.pay_order(s, self.consumer, order.id)
            except DomainError as err:
                if order.status != OrderStatus.CREATED:
                    assert err.code == "order.not_payable"
                else:
                    assert err.code == "wallet.insufficient_funds"
                    assert self.wallet < order.payable_fen
                return
            assert order.status == OrderStatus.CREATED
            self.wallet -= order.payable_fen

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50), amount=st.integers(1, 5_000), reuse=st.booleans())
        def refund(self, index: int, amount: int, reuse: bool) -> None:
            order = self._order(index)
            if not reuse:
                self.requests += 1
            data = RefundCreate(amount_fen=amount, out_request_no=f"r{self.requests}")
            try:
                with db.transaction() as s:
                    before = order.refunded_fen
                    refund = service.refund_order(s, owner, order.id, data)
                    after = s.get(Order, order.id).refunded_fen  # type: ignore[union-attr]
            except DomainError as err:
                assert err.code in (
                    "order.not_refundable",
                    "order.refund_exceeds_paid",
                    "refund.request_no_reused",
                )
                return
            assert refund.amount_fen == amount
            self.wallet += after - before

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50))
        def close(self, index: int) -> None:
            order = self._order(index)
            try:
                with db.transaction() as s:
                    service.close_order(s, self.consumer, order.id)
            except DomainError as err:
                assert err.code == "order.not_closable"
                assert order.status != OrderStatus.CREATED

        @invariant()
        def books_balance(self) -> None:
            with db.transaction() as s:
                assert ledger.check_invariants(s) == []
                assert ledger.wallet_balance(s, self.consumer.id) == self.wallet
                orders = list(s.scalars(select(Order)))
                assert all(0 <= o.refunded_fen <= o.payable_fen for o in orders)
                assert all(o.payable_fen == o.amount_fen - o.discount_fen >= 0 for o in orders)
                kept = sum(
                    o.payable_fen - o.refunded_fen for o in orders if o.status in PAID_STATES
                )
                held = s.scalar(
                    select(func.coalesce(func.sum(Account.balance_fen), 0)).where(
                        Account.kind.in_(
                            [AccountKind.MERCHANT_SETTLEMENT, AccountKind.PLATFORM_REVENUE]
                        )
                    )
                )
                assert held == kept
                fees = sum(
                    o.platform_fee_fen * o.refunded_fen // max(o.payable_fen, 1)
                    for o in orders
                    if o.status in PAID_STATES
                )
                assert fees == sum(o.refunded_fee_fen for o in orders)
                refunded = [o for o in orders if o.status == OrderStatus.REFUNDED]
                assert all(o.refunded_fee_fen == o.platform_fee_fen for o in refunded)

    run_state_machine_as_test(
        Books,
        settings=settings(max_examples=40, stateful_step_count=15, deadline=None),
    )
