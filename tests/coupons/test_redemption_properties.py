"""Random sequences of orders with coupons, payments, closes and refunds: a coupon is
never on two orders, never used twice, and every order's discount is its coupons'."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.worker import InProcessTransport, drain
from ccare.coupons import claims, risk
from ccare.coupons import service as coupons
from ccare.coupons.antifraud import Strictness
from ccare.coupons.models import Channel, Coupon, CouponStatus
from ccare.coupons.pricing import CouponKind, Stacking
from ccare.coupons.schemas import ActivityCreate, ClaimRequest, UserLimits, ValiditySpec
from ccare.ledger import service as ledger
from ccare.orders import service as orders
from ccare.orders.models import Order, OrderDiscount, OrderStatus
from ccare.orders.schemas import LineIn, OrderCreate, RefundCreate
from tests.factories import FACTORY_OPERATOR
from tests.orders.conftest import as_consumer, open_shop, staff

S = OrderStatus


def _activity(db: Database, merchant_id: int, n: int, kind: CouponKind) -> int:
    body = {
        "out_biz_no": f"prop-{n}",
        "merchant_id": merchant_id,
        "name": f"P{n}",
        "kind": kind,
        "amount_fen": 300 + 100 * n,
        "floor_fen": 1_000,
        "pay_rate_bp": 9_000,
        "ceiling_fen": 400,
        "quantity": 20,
        "user_limits": UserLimits(lifetime=3),
        "claim_begin": datetime(2026, 1, 1, tzinfo=UTC),
        "claim_end": datetime(2099, 1, 1, tzinfo=UTC),
        "validity": ValiditySpec(days_after_claim=30),
        "stacking": Stacking.JOINT if n % 2 else Stacking.EXCLUSIVE,
        "activate": True,
    }
    with db.transaction() as s:
        return coupons.create_activity(s, FACTORY_OPERATOR, ActivityCreate(**body)).id


def test_coupons_follow_their_orders_under_random_operations(db: Database) -> None:
    done: Counter[str] = Counter()

    class Wallet(RuleBasedStateMachine):
        @initialize()
        def open(self) -> None:
            self.shop = shop = open_shop(db)
            self.consumer = as_consumer(shop.consumer_id)
            self.owner = staff(db, shop.merchant.owner_staff_id)
            with db.transaction() as s:
                risk.set_strictness(s, FACTORY_OPERATOR, shop.merchant.merchant_id, Strictness.OFF)
                ledger.top_up(s, shop.consumer_id, 1_000_000, "prop")
            kinds = [CouponKind.FIXED, CouponKind.DISCOUNT, CouponKind.FIXED]
            self.activities = [
                _activity(db, shop.merchant.merchant_id, n, k) for n, k in enumerate(kinds)
            ]
            self.claims = 0
            self.orders: list[int] = []
            # Every example starts with a coupon used and one released, so the invariants
            # always meet both before the random rules take over.
            for which in (0, 1, 2):
                self.claim(which)
            self.order(quantity=2, picks=[0])
            self.act(index=0, action="pay")
            self.order(quantity=3, picks=[1])
            self.act(index=0, action="close")

        def _settle(self) -> None:
            drain(db, InProcessTransport(db, None))

        @rule(which=st.integers(0, 2))
        def claim(self, which: int) -> None:
            self.claims += 1
            request = ClaimRequest(channel=Channel.COUPON_VENUE, claim_key=f"c{self.claims}")
            try:
                with db.transaction() as s:
                    claims.claim(s, self.consumer, self.activities[which], request)
            except DomainError as err:
                assert err.code == "coupon.user_limit_reached"

        @rule(quantity=st.integers(1, 4), picks=st.lists(st.integers(0, 20), max_size=3))
        def order(self, quantity: int, picks: list[int]) -> None:
            with db.transaction() as s:
                mine = claims.my_coupons(s, self.consumer)
                ids = sorted({mine[p % len(mine)].id for p in picks}) if mine else []
            data = OrderCreate(
                mini_program_id=self.shop.mini_program_id,
                lines=[LineIn(item_id=self.shop.item_id, quantity=quantity)],
                coupon_ids=ids,
            )
            try:
                with db.transaction() as s:
                    self.orders.append(orders.create_order(s, self.consumer, data).id)
                done["order with coupons" if ids else "order"] += 1
            except DomainError as err:
                assert err.code.startswith("coupon."), err.code
                done["refused: " + err.code] += 1

        @rule(index=st.integers(0, 30), action=st.sampled_from(["pay", "close", "refund"]))
        def act(self, index: int, action: str) -> None:
            wanted = S.PAID if action == "refund" else S.CREATED
            with db.transaction() as s:
                ready = s.scalars(
                    select(Order.id)
                    .where(Order.id.in_(self.orders), Order.status == wanted)
                    .order_by(Order.id)
                ).all()
            if not ready:
                return
            order_id = ready[index % len(ready)]
            try:
                with db.transaction() as s:
                    order = s.get(Order, order_id)
                    assert order is not None
                    if action == "pay":
                        orders.pay_order(s, self.consumer, order_id)
                    elif action == "close":
                        orders.close_order(s, self.consumer, order_id)
                    else:
                        data = RefundCreate(amount_fen=order.payable_fen, out_request_no="full")
                        orders.refund_order(s, self.owner, order_id, data)
                    with_coupons = order.discount_fen > 0
                done[f"{action}{' with coupons' if with_coupons else ''}"] += 1
            except DomainError as err:
                # An illegal move for the order's state: refused, nothing changed.
                done[f"{action} refused: {err.code}"] += 1
            self._settle()

        @invariant()
        def coupons_follow_their_orders(self) -> None:
            if not hasattr(self, "shop"):
                return
            with db.transaction() as s:
                held = s.scalars(
                    select(Coupon).where(Coupon.consumer_id == self.shop.consumer_id)
                ).all()
                states = {
                    o.id: o for o in s.scalars(select(Order).where(Order.id.in_(self.orders)))
                }
                discounts = s.scalars(
                    select(OrderDiscount).where(OrderDiscount.order_id.in_(self.orders))
                ).all()
                by_order: dict[int, int] = {}
                for d in discounts:
                    by_order[d.order_id] = by_order.get(d.order_id, 0) + d.amount_fen
                # Never used twice: a coupon behind the discount of a paid order is used on
                # that order, and on no other paid one.
                paid = {o.id for o in states.values() if o.status == S.PAID}
                behind_paid = [int(d.reference) for d in discounts if d.order_id in paid]
                assert len(behind_paid) == len(set(behind_paid))
                status = {c.id: (c.status, c.order_id) for c in held}
                for d in discounts:
                    if d.order_id in paid:
                        assert status[int(d.reference)] == (CouponStatus.USED, d.order_id)
                for coupon in held:
                    if coupon.status == CouponStatus.LOCKED:
                        assert states[coupon.order_id].status == S.CREATED
                    elif coupon.status == CouponStatus.USED:
                        order = states[coupon.order_id]
                        assert order.status in (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED)
                    else:
                        assert coupon.order_id is None
                for order in states.values():
                    assert 0 <= order.discount_fen <= order.amount_fen
                    assert order.payable_fen == order.amount_fen - order.discount_fen
                    assert order.discount_fen == by_order.get(order.id, 0)
                    on_it = [c for c in held if c.order_id == order.id]
                    if order.status in (S.CREATED, S.PAID):
                        assert sum(c.discount_fen for c in on_it) == order.discount_fen

    run_state_machine_as_test(
        Wallet,
        settings=settings(max_examples=12, stateful_step_count=14, derandomize=True, deadline=None),
    )
    for what in ("order with coupons", "pay with coupons", "close with coupons"):
        assert done[what] >= 12, (what, done)
    assert done["refund with coupons"] > 0, done
