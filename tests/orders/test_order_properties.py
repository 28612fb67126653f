"""Random sequences of top-ups, orders, discounts, payments, refunds and closes keep the
books straight after every step."""

from __future__ import annotations

from collections import Counter

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
from sqlalchemy import select

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.ledger import service as ledger
from ccare.orders import service
from ccare.orders.models import Order, OrderStatus
from ccare.orders.schemas import LineIn, OrderCreate, RefundCreate
from tests.orders.conftest import as_consumer, open_shop, staff

S = OrderStatus
PAID_STATES = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED)
REFUNDABLE = (S.PAID, S.PARTIALLY_REFUNDED)
PAYABLE_FIRST = 1_000  # the shop's plain item: the first order of every example


def test_books_balance_under_random_operations(db: Database) -> None:
    done: Counter[str] = Counter()

    class Books(RuleBasedStateMachine):
        """`self.status` is the model: what each order's status must be in the database."""

        @initialize(funds=st.integers(PAYABLE_FIRST, 6_000))
        def open(self, funds: int) -> None:
            # A shop of its own per example: shared stock would make runs depend on each other.
            self.shop = shop = open_shop(db)
            self.owner = staff(db, shop.merchant.owner_staff_id)
            self.consumer = as_consumer(shop.consumer_id)
            self.wallet = 0
            self.status: dict[int, OrderStatus] = {}
            self.requests = 0
            with db.transaction() as s:
                self.revenue_before = ledger.platform_revenue(s).balance_fen
            self.top_up(funds)
            # Every example moves money both ways before the random rules take over, so the
            # invariants are always checked against real payments and refunds.
            self.create(plain=1, scarce=0)
            self._pay(self._pick(0, (S.CREATED,)))
            self.refund(index=0, percent=50, reuse=False)

        def _pick(self, index: int, states: tuple[OrderStatus, ...]) -> Order:
            ids = sorted(i for i, status in self.status.items() if status in states)
            with db.transaction() as s:
                order = s.get(Order, ids[index % len(ids)])
            assert order is not None
            return order

        def _any(self, *states: OrderStatus) -> bool:
            return any(status in states for status in self.status.values())

        @rule(amount=st.integers(1, 8_000))
        def top_up(self, amount: int) -> None:
            with db.transaction() as s:
                ledger.top_up(s, self.consumer.id, amount, "prop")
            self.wallet += amount

        @rule(plain=st.integers(0, 3), scarce=st.integers(0, 4))
        def create(self, plain: int, scarce: int) -> None:
            shop = self.shop
            wanted = [(shop.item_id, plain), (shop.scarce_item_id, scarce)]
            lines = [LineIn(item_id=i, quantity=q) for i, q in wanted if q]
            data = OrderCreate(
                mini_program_id=shop.mini_program_id,
                lines=lines or [LineIn(item_id=shop.item_id, quantity=1)],
            )
            try:
                with db.transaction() as s:
                    order_id = service.create_order(s, self.consumer, data).id
            except DomainError as err:
                assert err.code == "catalog.out_of_stock"
                return
            self.status[order_id] = S.CREATED

        @precondition(lambda self: self._any(S.CREATED))
        @rule(index=st.integers(0, 20), amount=st.integers(1, 3_000))
        def discount(self, index: int, amount: int) -> None:
            order = self._pick(index, (S.CREATED,))
            self.requests += 1
            try:
                with db.transaction() as s:
                    service.apply_discount(s, order.id, "coupon", f"d{self.requests}", amount)
            except DomainError as err:
                assert err.code == "order.discount_exceeds_amount"
                assert amount > order.payable_fen

        @precondition(lambda self: bool(self.status))
        @rule(index=st.integers(0, 20))
        def pay_any(self, index: int) -> None:
            order = self._pick(index, tuple(S))
            self._pay(order)

        @precondition(lambda self: self._any(S.CREATED))
        @rule(index=st.integers(0, 20))
        def pay_unpaid(self, index: int) -> None:
            self._pay(self._pick(index, (S.CREATED,)))

        def _pay(self, order: Order) -> None:
            try:
                with db.transaction() as s:
                    service.pay_order(s, self.consumer, order.id)
            except DomainError as err:
                if order.status != S.CREATED:
                    assert err.code == "order.not_payable"
                else:
                    assert err.code == "wallet.insufficient_funds"
                    assert self.wallet < order.payable_fen
                return
            assert order.status == S.CREATED
            self.wallet -= order.payable_fen
            self.status[order.id] = S.PAID
            done["pay"] += 1

        @precondition(lambda self: self._any(*REFUNDABLE))
        @rule(index=st.integers(0, 20), percent=st.integers(1, 120), reuse=st.booleans())
        def refund(self, index: int, percent: int, reuse: bool) -> None:
            order = self._pick(index, REFUNDABLE)
            # Relative to the payment, so that partial, full and excessive refunds all occur.
            amount = max(1, order.payable_fen * percent // 100)
            if not reuse:
                self.requests += 1
            data = RefundCreate(amount_fen=amount, out_request_no=f"r{self.requests}")
            before = order.refunded_fen
            try:
                with db.transaction() as s:
                    service.refund_order(s, self.owner, order.id, data)
                    after = s.get(Order, order.id)
                    assert after is not None
            except DomainError as err:
                assert err.code in ("order.refund_exceeds_paid", "refund.request_no_reused")
                return
            self.wallet += after.refunded_fen - before
            self.status[order.id] = S(after.status)
            done["refund" if after.refunded_fen > before else "replayed refund"] += 1

        @precondition(lambda self: bool(self.status))
        @rule(index=st.integers(0, 20))
        def close(self, index: int) -> None:
            order = self._pick(index, tuple(S))
            try:
                with db.transaction() as s:
                    service.close_order(s, self.consumer, order.id)
            except DomainError as err:
                assert err.code == "order.not_closable"
                assert order.status != S.CREATED
                return
            self.status[order.id] = S.CLOSED

        @invariant()
        def books_balance(self) -> None:
            merchant_id = self.shop.merchant.merchant_id
            with db.transaction() as s:
                assert ledger.check_invariants(s) == []
                assert ledger.wallet_balance(s, self.consumer.id) == self.wallet
                orders = list(s.scalars(select(Order).where(Order.merchant_id == merchant_id)))
                settlement = ledger.merchant_settlement(s, merchant_id).balance_fen
                revenue = ledger.platform_revenue(s).balance_fen - self.revenue_before
            assert {o.id: S(o.status) for o in orders} == self.status
            assert all(0 <= o.refunded_fen <= o.payable_fen for o in orders)
            assert all(o.payable_fen == o.amount_fen - o.discount_fen >= 0 for o in orders)
            paid = [o for o in orders if o.status in PAID_STATES]
            assert settlement + revenue == sum(o.payable_fen - o.refunded_fen for o in paid)
            # The platform keeps the fee only on what was not refunded, rounded down.
            assert all(
                o.refunded_fee_fen == o.platform_fee_fen * o.refunded_fen // o.payable_fen
                for o in paid
                if o.payable_fen
            )
            assert revenue == sum(o.platform_fee_fen - o.refunded_fee_fen for o in paid)

    run_state_machine_as_test(
        Books,
        settings=settings(max_examples=40, stateful_step_count=20, deadline=None, database=None),
    )
    # The run must have moved money both ways, or the invariants proved little.
    print("COUNTS", dict(done))
    assert done["pay"] >= 10 and done["refund"] >= 5, done
