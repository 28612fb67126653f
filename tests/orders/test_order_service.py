"""Every transition and error code of the order service, with exact amounts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ccare.catalog import service as catalog
from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PLATFORM
from ccare.ledger import service as ledger
from ccare.orders import service, tasks
from ccare.orders.models import Order, OrderStatus
from ccare.orders.schemas import LineIn, OrderCreate, RefundCreate
from tests.factories import make_staff
from tests.orders.conftest import Shop, as_consumer, open_shop, staff


def create(db: Database, shop: Shop, *lines: tuple[int, int], **extra) -> int:  # type: ignore[no-untyped-def]
    data = OrderCreate(
        mini_program_id=shop.mini_program_id,
        lines=[LineIn(item_id=i, quantity=q) for i, q in lines],
        **extra,
    )
    with db.transaction() as s:
        return service.create_order(s, shop.consumer, data).id


def top_up(db: Database, consumer_id: int, amount: int) -> None:
    with db.transaction() as s:
        ledger.top_up(s, consumer_id, amount, "test")


def pay(db: Database, shop: Shop, order_id: int) -> Order:
    with db.transaction() as s:
        return service.pay_order(s, shop.consumer, order_id)


def refund(db: Database, who, order_id: int, amount: int, no: str) -> int:  # type: ignore[no-untyped-def]
    data = RefundCreate(amount_fen=amount, out_request_no=no, reason="test")
    with db.transaction() as s:
        return service.refund_order(s, who, order_id, data).id


def order_row(db: Database, order_id: int) -> Order:
    with db.transaction() as s:
        order = s.get(Order, order_id)
        assert order is not None
        return order


def balances(db: Database, shop: Shop) -> tuple[int, int, int]:
    with db.transaction() as s:
        return (
            ledger.wallet_balance(s, shop.consumer_id),
            ledger.merchant_settlement(s, shop.merchant.merchant_id).balance_fen,
            ledger.platform_revenue(s).balance_fen,
        )


def events(db: Database, event_type: str) -> list[dict]:  # type: ignore[type-arg]
    with db.transaction() as s:
        rows = s.scalars(
            select(OutboxEvent).where(OutboxEvent.type == event_type).order_by(OutboxEvent.id)
        )
        return [r.payload for r in rows]


def stock(db: Database, item_id: int) -> int | None:
    with db.transaction() as s:
        return catalog.get_item(s, PLATFORM, item_id).stock


def code_of(fn) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as err:
        fn()
    return err.value.code


# --- create ------------------------------------------------------------------------------


def test_create_prices_lines_reserves_stock_and_emits(db: Database, shop: Shop) -> None:
    order_id = create(db, shop, (shop.item_id, 2), (shop.scarce_item_id, 3), out_trade_no="A-1")
    order = order_row(db, order_id)
    assert (order.amount_fen, order.discount_fen, order.payable_fen) == (2_750, 0, 2_750)
    assert order.status == OrderStatus.CREATED
    assert order.merchant_id == shop.merchant.merchant_id
    assert order.subject == "Soy milk +1"
    assert re.fullmatch(rf"{order.created_at:%Y%m%d}\d{{20}}", order.trade_no)
    assert order.expires_at - order.created_at == timedelta(minutes=30)
    assert stock(db, shop.scarce_item_id) == 0
    with db.transaction() as s:
        out = service.describe(s, service.get_order(s, shop.consumer, order_id))
    assert [(li.name, li.unit_price_fen, li.quantity, li.amount_fen) for li in out.lines] == [
        ("Soy milk", 1_000, 2, 2_000),
        ("Fried dough", 250, 3, 750),
    ]
    assert out.trade_status == "WAIT_BUYER_PAY"
    [created] = events(db, "order.created")
    assert created["amount"] == 2_750
    assert created["items"] == [
        {"item_id": shop.item_id, "quantity": 2},
        {"item_id": shop.scarce_item_id, "quantity": 3},
    ]


def test_out_of_stock_writes_no_order(db: Database, shop: Shop) -> None:
    assert code_of(lambda: create(db, shop, (shop.item_id, 1), (shop.scarce_item_id, 4))) == (
        "catalog.out_of_stock"
    )
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0
    assert stock(db, shop.scarce_item_id) == 3
    assert events(db, "order.created") == []


def test_out_trade_no_is_unique_per_merchant(db: Database, shop: Shop) -> None:
    create(db, shop, (shop.item_id, 1), out_trade_no="X1")
    assert code_of(lambda: create(db, shop, (shop.item_id, 1), out_trade_no="X1")) == (
        "order.out_trade_no_taken"
    )
    other = open_shop(db, "Other")
    create(db, other, (other.item_id, 1), out_trade_no="X1")


def test_create_checks_store_and_catalog(db: Database, shop: Shop) -> None:
    from tests.factories import make_store

    other = open_shop(db, "Other")
    foreign_store = make_store(db, other.merchant.merchant_id)
    assert code_of(lambda: create(db, shop, (shop.item_id, 1), store_id=foreign_store)) == (
        "order.store_not_found"
    )
    own_store = make_store(db, shop.merchant.merchant_id)
    assert order_row(db, create(db, shop, (shop.item_id, 1), store_id=own_store)).store_id == (
        own_store
    )
    assert code_of(lambda: create(db, shop, (other.item_id, 1))) == "catalog.item_not_found"


# --- pay ---------------------------------------------------------------------------------


def test_pay_splits_payable_between_merchant_and_platform(db: Database, shop: Shop) -> None:
    top_up(db, shop.consumer_id, 5_000)
    order_id = create(db, shop, (shop.item_id, 2))
    paid = pay(db, shop, order_id)
    assert paid.status == OrderStatus.PAID
    assert paid.platform_fee_fen == 12  # 2000 * 60 bps
    assert balances(db, shop) == (3_000, 1_988, 12)
    [event] = events(db, "order.paid")
    assert event["amount"] == 2_000
    assert event["platform_fee_fen"] == 12
    assert event["items"] == [{"item_id": shop.item_id, "quantity": 2}]
    assert event["merchant_id"] == shop.merchant.merchant_id
    assert event["consumer_id"] == shop.consumer_id
    assert event["mini_program_id"] == shop.mini_program_id
    assert event["trade_no"] == paid.trade_no
    with db.transaction() as s:
        assert ledger.check_invariants(s) == []


def test_insufficient_funds_changes_nothing(db: Database, shop: Shop) -> None:
    top_up(db, shop.consumer_id, 1_999)
    order_id = create(db, shop, (shop.item_id, 2))
    with pytest.raises(DomainError) as err:
        pay(db, shop, order_id)
    assert err.value.code == "wallet.insufficient_funds"
    assert err.value.status_code == 409
    assert err.value.details["available"] == 1_999
    assert err.value.details["required"] == 2_000
    assert order_row(db, order_id).status == OrderStatus.CREATED
    assert balances(db, shop) == (1_999, 0, 0)
    assert events(db, "order.paid") == []


def test_pay_refusals(db: Database, shop: Shop) -> None:
    top_up(db, shop.consumer_id, 10_000)
    order_id = create(db, shop, (shop.item_id, 1))
    pay(db, shop, order_id)
    assert code_of(lambda: pay(db, shop, order_id)) == "order.not_payable"
    closed = create(db, shop, (shop.item_id, 1))
    with db.transaction() as s:
        service.close_order(s, shop.consumer, closed)
    assert code_of(lambda: pay(db, shop, closed)) == "order.not_payable"
    stranger = as_consumer(shop.consumer_id + 1000)
    with db.transaction() as s:
        assert code_of(lambda: service.pay_order(s, stranger, closed)) == "order.not_found"
    assert balances(db, shop)[0] == 9_000


def test_pay_after_expiry_is_refused(db: Database, shop: Shop) -> None:
    top_up(db, shop.consumer_id, 10_000)
    order_id = create(db, shop, (shop.item_id, 1))
    late = order_row(db, order_id).expires_at
    with db.transaction() as s:
        assert code_of(lambda: service.pay_order(s, shop.consumer, order_id, now=late)) == (
            "order.expired"
        )
    assert order_row(db, order_id).status == OrderStatus.CREATED
    assert balances(db, shop)[0] == 10_000


# --- close -------------------------------------------------------------------------------


def test_close_by_consumer_releases_stock(db: Database, shop: Shop) -> None:
    order_id = create(db, shop, (shop.scarce_item_id, 2))
    assert stock(db, shop.scarce_item_id) == 1
    with db.transaction() as s:
        service.close_order(s, shop.consumer, order_id)
    order = order_row(db, order_id)
    assert order.status == OrderStatus.CLOSED
    assert order.closed_at is not None
    assert stock(db, shop.scarce_item_id) == 3
    [event] = events(db, "order.closed")
    assert event["reason"] == "consumer"
    assert event["items"] == [{"item_id": shop.scarce_item_id, "quantity": 2}]
    with db.transaction() as s:
        assert code_of(lambda: service.close_order(s, shop.consumer, order_id)) == (
            "order.not_closable"
        )


def test_close_by_staff_and_tenancy(db: Database, shop: Shop) -> None:
    clerk = staff(db, make_staff(db, shop.merchant.merchant_id, role="clerk").staff_id)
    other = open_shop(db, "Other")
    outsider = staff(db, other.merchant.owner_staff_id)
    order_id = create(db, shop, (shop.item_id, 1))
    with db.transaction() as s:
        assert code_of(lambda: service.close_order(s, outsider, order_id)) == "order.not_found"
    with db.transaction() as s:
        assert service.close_order(s, clerk, order_id).close_reason == "merchant"


def test_paid_order_cannot_be_closed(db: Database, shop: Shop) -> None:
    top_up(db, shop.consumer_id, 1_000)
    order_id = create(db, shop, (shop.item_id, 1))
    pay(db, shop, order_id)
    with db.transaction() as s:
        assert code_of(lambda: service.close_order(s, shop.consumer, order_id)) == (
            "order.not_closable"
        )


def test_close_overdue_closes_only_unpaid_expired_orders(db: Database, shop: Shop) -> None:
    top_up(db, shop.consumer_id, 1_000)
    stale = create(db, shop, (shop.scarce_item_id, 1))
    paid = create(db, shop, (shop.item_id, 1))
    pay(db, shop, paid)
    fresh = create(db, shop, (shop.item_id, 1))
    later = order_row(db, fresh).expires_at - timedelta(microseconds=1)
    assert order_row(db, stale).expires_at < later
    assert tasks.close_overdue(db, now=later) == 1
    assert order_row(db, stale).status == OrderStatus.CLOSED
    assert order_row(db, stale).close_reason == "expired"
    assert order_row(db, paid).status == OrderStatus.PAID
    assert order_row(db, fresh).status == OrderStatus.CREATED
    assert stock(db, shop.scarce_item_id) == 3
    assert tasks.close_overdue(db, now=later) == 0


# --- refund ------------------------------------------------------------------------------


def test_partial_then_full_refund_returns_fee_proportionally(db: Database, shop: Shop) -> None:
    owner = staff(db, shop.merchant.owner_staff_id)
    top_up(db, shop.consumer_id, 10_000)
    order_id = create(db, shop, (shop.item_id, 10))
    pay(db, shop, order_id)
    assert balances(db, shop) == (0, 9_940, 60)
    refund(db, owner, order_id, 3_000, "r1")
    order = order_row(db, order_id)
    assert (order.status, order.refunded_fen) == (OrderStatus.PARTIALLY_REFUNDED, 3_000)
    assert balances(db, shop) == (3_000, 9_940 - 2_982, 60 - 18)
    refund(db, owner, order_id, 7_000, "r2")
    order = order_row(db, order_id)
    assert (order.status, order.refunded_fen) == (OrderStatus.REFUNDED, 10_000)
    assert balances(db, shop) == (10_000, 0, 0)
    assert [
        (e["amount"], e["refunded_total"], e["fully_refunded"])
        for e in events(db, "order.refunded")
    ] == [(3_000, 3_000, False), (7_000, 10_000, True)]
    with db.transaction() as s:
        assert ledger.check_invariants(s) == []
        out = service.describe(s, service.get_order(s, owner, order_id))
        assert out.trade_status == "TRADE_CLOSED"


def test_fee_rounding_never_leaves_fee_on_a_refunded_order(db: Database, shop: Shop) -> None:
    owner = staff(db, shop.merchant.owner_staff_id)
    top_up(db, shop.consumer_id, 10_000)
    # 3 x 250 + 1000 = 1750 fen, fee 1750 * 60 // 10000 = 10
    order_id = create(db, shop, (shop.item_id, 1), (shop.scarce_item_id, 3))
    pay(db, shop, order_id)
    assert balances(db, shop) == (8_250, 1_740, 10)
    for n, amount in enumerate([1, 174, 1_575]):
        refund(db, owner, order_id, amount, f"r{n}")
    # cumulative fee refunded: 10*1//1750=0, 10*175//1750=1, 10*1750//1750=10
    assert balances(db, shop) == (10_000, 0, 0)


def test_refund_refusals(db: Database, shop: Shop) -> None:
    owner = staff(db, shop.merchant.owner_staff_id)
    top_up(db, shop.consumer_id, 10_000)
    unpaid = create(db, shop, (shop.item_id, 1))
    assert code_of(lambda: refund(db, owner, unpaid, 100, "a")) == "order.not_refundable"
    order_id = create(db, shop, (shop.item_id, 1))
    pay(db, shop, order_id)
    assert code_of(lambda: refund(db, owner, order_id, 1_001, "b")) == "order.refund_exceeds_paid"
    refund(db, owner, order_id, 1_000, "c")
    assert code_of(lambda: refund(db, owner, order_id, 1, "d")) == "order.not_refundable"
    clerk = staff(db, make_staff(db, shop.merchant.merchant_id, role="clerk").staff_id)
    assert code_of(lambda: refund(db, clerk, order_id, 1, "e")) == "staff.role_forbidden"
    outsider = staff(db, open_shop(db, "Other").merchant.owner_staff_id)
    assert code_of(lambda: refund(db, outsider, order_id, 1, "f")) == "order.not_found"
    manager = staff(db, make_staff(db, shop.merchant.merchant_id, role="manager").staff_id)
    second = create(db, shop, (shop.item_id, 1))
    pay(db, shop, second)
    refund(db, manager, second, 500, "g")


def test_out_request_no_is_idempotent_per_order(db: Database, shop: Shop) -> None:
    owner = staff(db, shop.merchant.owner_staff_id)
    top_up(db, shop.consumer_id, 10_000)
    order_id = create(db, shop, (shop.item_id, 2))
    pay(db, shop, order_id)
    first = refund(db, owner, order_id, 500, "same")
    assert refund(db, owner, order_id, 500, "same") == first
    assert order_row(db, order_id).refunded_fen == 500
    assert code_of(lambda: refund(db, owner, order_id, 600, "same")) == "refund.request_no_reused"
    assert balances(db, shop)[0] == 8_500
    with db.transaction() as s:
        assert [r.amount_fen for r in service.list_refunds(s, owner, order_id)] == [500]
    other = create(db, shop, (shop.item_id, 1))
    pay(db, shop, other)
    refund(db, owner, other, 500, "same")


# --- discount slot -----------------------------------------------------------------------


def test_discount_lowers_payable_and_payment(db: Database, shop: Shop) -> None:
    top_up(db, shop.consumer_id, 10_000)
    order_id = create(db, shop, (shop.item_id, 2))
    with db.transaction() as s:
        service.apply_discount(s, order_id, "coupon", "C-1", 500)
        # same source and reference again: no second discount
        service.apply_discount(s, order_id, "coupon", "C-1", 500)
    with db.transaction() as s:
        assert code_of(lambda: service.apply_discount(s, order_id, "coupon", "C-1", 600)) == (
            "order.discount_reused"
        )
    with db.transaction() as s:
        assert code_of(lambda: service.apply_discount(s, order_id, "coupon", "C-2", 1_501)) == (
            "order.discount_exceeds_amount"
        )
    order = order_row(db, order_id)
    assert (order.amount_fen, order.discount_fen, order.payable_fen) == (2_000, 500, 1_500)
    pay(db, shop, order_id)
    assert balances(db, shop) == (8_500, 1_491, 9)
    assert events(db, "order.paid")[0]["amount"] == 1_500
    with db.transaction() as s:
        assert code_of(lambda: service.apply_discount(s, order_id, "coupon", "C-3", 1)) == (
            "order.not_discountable"
        )


def test_fully_discounted_order_pays_without_moving_money(db: Database, shop: Shop) -> None:
    owner = staff(db, shop.merchant.owner_staff_id)
    order_id = create(db, shop, (shop.item_id, 1))
    with db.transaction() as s:
        service.apply_discount(s, order_id, "coupon", "FREE", 1_000)
    assert pay(db, shop, order_id).status == OrderStatus.PAID
    assert balances(db, shop) == (0, 0, 0)
    assert code_of(lambda: refund(db, owner, order_id, 1, "x")) == "order.refund_exceeds_paid"


# --- reads -------------------------------------------------------------------------------


def test_reads_are_scoped(db: Database, shop: Shop) -> None:
    other = open_shop(db, "Other")
    mine = create(db, shop, (shop.item_id, 1))
    theirs = create(db, other, (other.item_id, 1))
    owner = staff(db, shop.merchant.owner_staff_id)
    with db.transaction() as s:
        assert [o.id for o in service.list_orders(s, owner.tenant)] == [mine]
        assert [o.id for o in service.consumer_orders(s, shop.consumer_id)] == [mine]
        assert [o.id for o in service.list_orders(s, PLATFORM)] == [theirs, mine]
        assert service.list_orders(s, owner.tenant, status=OrderStatus.PAID) == []
        assert code_of(lambda: service.get_order(s, owner, theirs)) == "order.not_found"
        assert code_of(lambda: service.get_order(s, shop.consumer, theirs)) == "order.not_found"
        assert service.get_order(s, other.consumer, theirs).id == theirs


def test_trade_numbers_are_28_digits_sortable_by_second_and_distinct() -> None:
    from datetime import UTC, datetime

    from ccare.orders.service import new_trade_no

    at = datetime(2026, 11, 24, 9, 30, 5, tzinfo=UTC)
    numbers = {new_trade_no(at) for _ in range(20_000)}
    assert len(numbers) == 20_000
    assert all(len(n) == 28 and n.isdigit() and n.startswith("20261124093005") for n in numbers)
    assert new_trade_no(at) < new_trade_no(datetime(2026, 11, 24, 9, 30, 6, tzinfo=UTC))
