"""Coupons on orders through the API: preview, lock on creation, used on pay, back on close,
returned on a full refund (per policy); a coupon is never on two orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.time import SimulatedClock, as_utc, use_clock
from ccare.core.worker import InProcessTransport, drain
from ccare.runtime import Runtime
from tests.coupons.test_activities import activity
from tests.factories import (
    consumer_login,
    login,
    make_consumer,
    make_item,
    make_merchant,
    make_mini_program,
)


class Shop:
    def __init__(self, client: TestClient, db: Database) -> None:
        merchant = make_merchant(db)
        self.client, self.db = client, db
        self.owner = login(client, merchant.owner_email, merchant.password)
        self.mp = make_mini_program(db, merchant.merchant_id)
        self.noodles = make_item(db, merchant.merchant_id, self.mp, name="Noodles", price_fen=1800)
        self.tea = make_item(db, merchant.merchant_id, self.mp, name="Tea", price_fen=500)
        self.buyer_id = make_consumer(db)
        self.buyer = consumer_login(client, self.buyer_id)
        r = client.post(
            "/api/v1/wallet/top-ups",
            json={"amount_fen": 100_000},
            headers={**self.buyer, "Idempotency-Key": "top-up"},
        )
        assert r.status_code in (200, 201), r.text

    def activity(self, **overrides: Any) -> int:
        body = activity(**{"quantity": 10, **overrides})
        r = self.client.post("/api/v1/coupon-activities", json=body, headers=self.owner)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def claim(self, activity_id: int, who: dict[str, str] | None = None) -> int:
        r = self.client.post(
            f"/api/v1/coupon-activities/{activity_id}/claim",
            json={"channel": "payment_success", "claim_key": f"k{activity_id}"},
            headers=who or self.buyer,
        )
        assert r.status_code == 200, r.text
        return int(r.json()["id"])

    def order(self, lines: dict[int, int], coupons: list[int], key: str) -> Any:
        body = {
            "mini_program_id": self.mp,
            "lines": [{"item_id": i, "quantity": q} for i, q in lines.items()],
            "coupon_ids": coupons,
        }
        return self.client.post(
            "/api/v1/orders", json=body, headers={**self.buyer, "Idempotency-Key": key}
        )

    def coupon(self, coupon_id: int) -> dict[str, Any]:
        mine = self.client.get("/api/v1/me/coupons", headers=self.buyer).json()
        found: dict[str, Any] = next(c for c in mine if c["id"] == coupon_id)
        return found

    def settle(self) -> None:
        drain(self.db, InProcessTransport(self.db, None))


@pytest.fixture
def shop(client: TestClient, db: Database) -> Shop:
    return Shop(client, db)


def test_a_coupon_is_locked_on_the_order_and_used_when_it_is_paid(shop: Shop) -> None:
    coupon = shop.claim(shop.activity())

    order = shop.order({shop.noodles: 2}, [coupon], "o1")
    locked = shop.coupon(coupon)
    paid = shop.client.post(
        f"/api/v1/orders/{order.json()['id']}/pay",
        headers={**shop.buyer, "Idempotency-Key": "p1"},
    )
    shop.settle()

    assert order.status_code == 201, order.text
    assert (order.json()["amount_fen"], order.json()["discount_fen"]) == (3600, 500)
    assert order.json()["payable_fen"] == 3100
    assert [(d["source"], d["reference"], d["amount_fen"]) for d in order.json()["discounts"]] == [
        ("coupon", str(coupon), 500)
    ]
    assert (locked["status"], locked["order_id"], locked["discount_fen"]) == (
        "locked",
        order.json()["id"],
        500,
    )
    assert paid.json()["payable_fen"] == 3100
    assert shop.coupon(coupon)["status"] == "used"


def test_a_coupon_never_goes_on_two_orders(shop: Shop) -> None:
    coupon = shop.claim(shop.activity())
    first = shop.order({shop.noodles: 2}, [coupon], "o1")

    second = shop.order({shop.noodles: 2}, [coupon], "o2")

    assert first.status_code == 201
    assert (second.status_code, second.json()["code"]) == (422, "coupon.not_available")
    assert second.json()["details"] == {"coupon_id": coupon, "status": "locked"}
    assert len(shop.client.get("/api/v1/orders", headers=shop.buyer).json()["items"]) == 1


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ({"noodles": 1}, "coupon.below_minimum_spend"),  # 1800 < 3000
        ({"tea": 7}, "coupon.no_eligible_goods"),  # tea is excluded
    ],
)
def test_a_coupon_that_does_not_apply_refuses_the_order_and_nothing_is_written(
    shop: Shop, lines: dict[str, int], code: str
) -> None:
    coupon = shop.claim(shop.activity(items_exclude=[shop.tea]))
    items = {"noodles": shop.noodles, "tea": shop.tea}

    refused = shop.order({items[k]: q for k, q in lines.items()}, [coupon], "o1")

    assert (refused.status_code, refused.json()["code"]) == (422, code)
    assert shop.coupon(coupon)["status"] == "available"
    assert shop.client.get("/api/v1/orders", headers=shop.buyer).json()["items"] == []


def test_closing_the_unpaid_order_gives_the_coupon_back(shop: Shop) -> None:
    coupon = shop.claim(shop.activity())
    order = shop.order({shop.noodles: 2}, [coupon], "o1").json()["id"]

    closed = shop.client.post(f"/api/v1/orders/{order}/close", headers=shop.buyer)
    shop.settle()
    again = shop.order({shop.noodles: 2}, [coupon], "o2")

    assert closed.status_code == 200
    assert again.status_code == 201, again.text
    assert shop.coupon(coupon)["order_id"] == again.json()["id"]


@pytest.mark.parametrize(("policy", "after"), [("return", "available"), ("forfeit", "used")])
def test_a_full_refund_returns_the_coupon_only_under_a_return_policy(
    shop: Shop, policy: str, after: str
) -> None:
    coupon = shop.claim(shop.activity(refund_policy=policy))
    order = shop.order({shop.noodles: 2}, [coupon], "o1").json()["id"]
    pay = shop.client.post(
        f"/api/v1/orders/{order}/pay", headers={**shop.buyer, "Idempotency-Key": "p1"}
    )
    assert pay.status_code == 200, pay.text
    shop.settle()

    refund = shop.client.post(
        f"/api/v1/orders/{order}/refunds",
        json={"amount_fen": 3100, "out_request_no": "r1"},
        headers={**shop.owner, "Idempotency-Key": "r1"},
    )
    shop.settle()

    assert refund.status_code in (200, 201), refund.text
    assert (shop.coupon(coupon)["status"], shop.coupon(coupon)["order_id"]) == (
        after,
        None if after == "available" else order,
    )


def test_the_checkout_preview_explains_each_coupon(shop: Shop, db: Database) -> None:
    fixed = shop.claim(shop.activity(out_biz_no="fixed"))
    joint = shop.activity(
        out_biz_no="discount",
        kind="discount",
        pay_rate_bp=9000,
        ceiling_fen=1000,
        floor_fen=0,
        stacking="joint",
    )
    discount = shop.claim(joint)
    stranger = consumer_login(shop.client, make_consumer(db))
    theirs = shop.claim(shop.activity(out_biz_no="other"), who=stranger)

    r = shop.client.post(
        "/api/v1/me/coupons/preview",
        json={
            "mini_program_id": shop.mp,
            "lines": [{"item_id": shop.noodles, "quantity": 2}],
            "coupon_ids": [fixed, discount, theirs],
        },
        headers=shop.buyer,
    )

    assert r.status_code == 200, r.text
    quote = r.json()
    # The exclusive 5-yuan coupon beats the joint 10% one (360 fen off 3600): one of them.
    assert (quote["total_fen"], quote["discount_fen"], quote["payable_fen"]) == (3600, 500, 3100)
    assert quote["applied"] == [{"coupon_id": fixed, "discount_fen": 500}]
    assert {(x["coupon_id"], x["code"]) for x in quote["refused"]} == {
        (theirs, "coupon.not_found"),
        (discount, "coupon.not_stackable"),
    }


def test_coupon_events_are_dated_when_the_order_was_paid_or_closed(
    shop: Shop, runtime: Runtime
) -> None:
    """The worker may relay an order's payment hours later: the coupon's use (and a
    release) still counts at the order's own time, where a campaign's window reads it."""
    paid_at = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
    clock = SimulatedClock(paid_at)
    use_clock(clock)
    try:
        used = shop.claim(shop.activity())
        released = shop.claim(shop.activity(out_biz_no="spring-2"))
        order = shop.order({shop.noodles: 2}, [used], "o1").json()
        shop.client.post(
            f"/api/v1/orders/{order['id']}/pay", headers={**shop.buyer, "Idempotency-Key": "p1"}
        )
        unpaid = shop.order({shop.noodles: 2}, [released], "o2").json()
        clock.advance(timedelta(minutes=10))
        closed = shop.client.post(f"/api/v1/orders/{unpaid['id']}/close", headers=shop.buyer)
        assert closed.status_code == 200, closed.text
        clock.advance(timedelta(hours=3))  # the worker gets to it later
        drain(shop.db, InProcessTransport(shop.db, runtime.analytics))
    finally:
        use_clock(None)

    assert runtime.analytics is not None
    events = runtime.analytics.events_table()
    rows = (
        events.filter(events.type.isin(["coupon.used", "coupon.released"]))
        .select("type", "occurred_at")
        .order_by("type")
        .to_pyarrow()
        .to_pylist()
    )
    assert [(r["type"], as_utc(r["occurred_at"])) for r in rows] == [
        ("coupon.released", paid_at + timedelta(minutes=10)),
        ("coupon.used", paid_at),
    ]
