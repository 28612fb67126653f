"""Coupons in the consumer app: choosing them at checkout (with the preview of what each
takes off) and claiming the merchant's coupons on the payment-success page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests import factories as f
from tests.coupons.test_activities import WINDOW
from tests.web.conftest import World, app_sign_in, make_world

KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]{32})"')


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def create_activity(client: TestClient, world: World, **overrides: Any) -> int:
    """满30减5 by default: ¥5 off orders of ¥30 or more, one per person."""
    body: dict[str, Any] = {
        "out_biz_no": "spend-30",
        "name": "满30减5",
        "kind": "fixed",
        "amount_fen": 500,
        "floor_fen": 3000,
        "quantity": 10,
        "user_limits": {"lifetime": 1},
        "validity": {"days_after_claim": 7},
        "activate": True,
        **WINDOW,
        **overrides,
    }
    owner = f.login(client, world.merchant.owner_email, world.merchant.password)
    r = client.post("/api/v1/coupon-activities", json=body, headers=owner)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def give(client: TestClient, consumer_id: int, activity_id: int, key: str = "venue") -> int:
    headers = f.consumer_login(client, consumer_id)
    r = client.post(
        f"/api/v1/coupon-activities/{activity_id}/claim",
        json={"channel": "coupon_venue", "claim_key": key},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return int(r.json()["id"])


def basket(world: World, noodles: int = 0, dumplings: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "mini_program_id": str(world.mini_program_id),
        "item_id": [str(world.noodles_id), str(world.dumplings_id)],
        "quantity": [str(noodles), str(dumplings)],
        "idempotency_key": "checkout-form-1",
        **extra,
    }


def coupon_status(client: TestClient, consumer_id: int, coupon_id: int) -> str:
    mine = client.get("/api/v1/me/coupons", headers=f.consumer_login(client, consumer_id))
    status: str = next(c["status"] for c in mine.json() if c["id"] == coupon_id)
    return status


def paid_order(client: TestClient, world: World, noodles: int = 1) -> int:
    """An order without coupons, paid in the app: its page is the payment-success page."""
    r = client.post(
        "/app/orders",
        data=basket(world, noodles=noodles, idempotency_key=f"paid-{noodles}", checkout="1"),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    order_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.post(
        f"/app/orders/{order_id}/pay",
        data={"idempotency_key": f"pay-{order_id}"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/app/orders/{order_id}?paid=1"
    return order_id


# --- choosing coupons at checkout -------------------------------------------------------


def test_without_coupons_the_order_is_placed_at_once(client: TestClient, world: World) -> None:
    create_activity(client, world)  # an activity, but nothing claimed from it
    app_sign_in(client, world.consumer_id)
    r = client.post("/app/orders", data=basket(world, noodles=1), follow_redirects=False)
    assert r.status_code == 303
    assert re.fullmatch(r"/app/orders/\d+", r.headers["location"])


def test_the_checkout_lists_the_coupons_with_what_each_takes_off(
    client: TestClient, world: World
) -> None:
    spend_30 = give(client, world.consumer_id, create_activity(client, world))
    spend_50 = give(
        client,
        world.consumer_id,
        create_activity(
            client, world, out_biz_no="spend-50", name="满50减10", amount_fen=1000, floor_fen=5000
        ),
    )
    theirs = create_activity(client, world, out_biz_no="x", name="Elsewhere")
    not_mine = give(client, world.poor_consumer_id, theirs)
    app_sign_in(client, world.consumer_id)

    # 2 × ¥12.00 + ¥18.50 = ¥42.50: the ¥30 coupon applies, the ¥50 one does not.
    page = client.post("/app/orders", data=basket(world, noodles=2, dumplings=1))
    assert page.status_code == 200
    text = page.text
    assert "<title>确认订单 · ccare</title>" in text
    assert '<form method="post" action="/app/orders" id="checkout-form"' in text
    assert 'hx-get="/app/checkout/quote" hx-trigger="change"' in text
    assert '<input type="hidden" name="idempotency_key" value="checkout-form-1">' in text
    assert '<input type="hidden" name="checkout" value="1">' in text
    assert '<div class="order-line"><span>葱油拌面 × 2</span><span>¥24.00</span></div>' in text
    assert '<div class="order-line"><span>鲜肉小笼 × 1</span><span>¥18.50</span></div>' in text
    # Applicable coupons first; the one that does not apply says why and cannot be ticked.
    assert re.findall(r'<label class="coupon-choice[^"]*" data-coupon="(\d+)">', text) == [
        str(spend_30),
        str(spend_50),
    ]
    assert f'data-coupon="{not_mine}"' not in text
    first = re.search(rf'data-coupon="{spend_30}">(.*?)</label>', text, re.S)
    assert first is not None
    assert f'<input type="checkbox" name="coupon_id" value="{spend_30}">' in first.group(1)
    assert '<small class="coupon-offer">满¥30.00减¥5.00</small>' in first.group(1)
    assert '<strong class="coupon-saving">-¥5.00</strong>' in first.group(1)
    second = re.search(rf'data-coupon="{spend_50}">(.*?)</label>', text, re.S)
    assert second is not None
    assert f'value="{spend_50}" disabled>' in second.group(1)
    assert (
        '<small class="coupon-reason">适用商品满¥50.00才能使用此券（本单¥42.50）。</small>'
        in second.group(1)
    )
    assert 'class="coupon-saving"' not in second.group(1)
    # Nothing ticked yet: the whole amount is to pay.
    assert '<span id="checkout-amount">¥42.50</span>' in text
    assert '<strong id="checkout-payable">¥42.50</strong>' in text
    assert '<button type="submit" id="place-order-button">提交订单</button>' in text

    client.cookies.set("ccare_locale", "en")
    en = client.post("/app/orders", data=basket(world, noodles=2, dumplings=1)).text
    assert "<h3>Your coupons for this shop</h3>" in en
    assert (
        '<small class="coupon-reason">Spend at least ¥50.00 on the items this coupon covers '
        "(this order: ¥42.50).</small>" in en
    )
    assert '<button type="submit" id="place-order-button">Place order</button>' in en


def test_the_preview_fragment_follows_the_ticked_coupons(client: TestClient, world: World) -> None:
    spend_30 = give(client, world.consumer_id, create_activity(client, world))
    spend_40 = give(
        client,
        world.consumer_id,
        create_activity(
            client, world, out_biz_no="spend-40", name="满40减8", amount_fen=800, floor_fen=4000
        ),
    )
    app_sign_in(client, world.consumer_id)
    query: dict[str, Any] = {
        "mini_program_id": world.mini_program_id,
        "item_id": [world.noodles_id, world.dumplings_id],
        "quantity": ["2", "1"],
    }
    hx = {"HX-Request": "true"}

    one = client.get("/app/checkout/quote", params={**query, "coupon_id": [spend_30]}, headers=hx)
    assert one.status_code == 200
    assert one.text.startswith('<div id="checkout-quote">') and "<html" not in one.text
    assert (
        f'<div class="order-line discount-line" data-coupon="{spend_30}"><span>满30减5</span>'
        "<span>-¥5.00</span></div>" in one.text
    )
    assert '<strong id="checkout-payable">¥37.50</strong>' in one.text

    # Both exclusive: the larger one is kept, the other says why.
    both = client.get(
        "/app/checkout/quote", params={**query, "coupon_id": [spend_30, spend_40]}, headers=hx
    ).text
    assert f'data-coupon="{spend_40}"><span>满40减8</span><span>-¥8.00</span></div>' in both
    assert (
        f'<p class="coupon-reason" data-refused="{spend_30}">'
        "满30减5：此券不能与所选的其他券同时使用，已保留优惠更多的组合。</p>" in both
    )
    assert '<strong id="checkout-payable">¥34.50</strong>' in both

    # One bowl of noodles (¥12.00) is below both minimums.
    client.cookies.set("ccare_locale", "en")
    small = client.get(
        "/app/checkout/quote",
        params={**query, "quantity": ["1", "0"], "coupon_id": [spend_30]},
        headers=hx,
    ).text
    assert (
        f'<p class="coupon-reason" data-refused="{spend_30}">满30减5: Spend at least ¥30.00 on the '
        "items this coupon covers (this order: ¥12.00).</p>" in small
    )
    assert '<strong id="checkout-payable">¥12.00</strong>' in small

    none = client.get("/app/checkout/quote", params=query, headers=hx).text
    assert '<strong id="checkout-payable">¥42.50</strong>' in none
    assert "discount-line" not in none


@pytest.mark.parametrize(
    ("locale", "title", "line", "pay"),
    [
        ("zh_CN", "<title>订单详情 · ccare</title>", "商品金额", "支付 ¥37.50"),
        ("en", "<title>Order details · ccare</title>", "Items total", "Pay ¥37.50"),
    ],
)
def test_ordering_with_a_coupon(
    client: TestClient, world: World, locale: str, title: str, line: str, pay: str
) -> None:
    coupon = give(client, world.consumer_id, create_activity(client, world))
    app_sign_in(client, world.consumer_id)
    client.cookies.set("ccare_locale", locale)
    form = basket(world, noodles=2, dumplings=1, checkout="1", coupon_id=[str(coupon)])
    r = client.post("/app/orders", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    order_id = int(r.headers["location"].rsplit("/", 1)[1])
    # The same form again (a double click) places nothing more.
    again = client.post("/app/orders", data=form, follow_redirects=False)
    assert again.headers["location"] == f"/app/orders/{order_id}"

    page = client.get(f"/app/orders/{order_id}").text
    assert title in page
    assert '<p class="amount-big" id="payable">¥37.50</p>' in page
    assert f'<div class="order-line"><span>{line}</span><span>¥42.50</span></div>' in page
    assert (
        f'<div class="order-line discount-line" data-coupon="{coupon}"><span>满30减5</span>'
        "<span>-¥5.00</span></div>" in page
    )
    assert pay in page
    assert coupon_status(client, world.consumer_id, coupon) == "locked"

    key = KEY.search(page)
    assert key is not None
    r = client.post(
        f"/app/orders/{order_id}/pay",
        data={"idempotency_key": key.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    wallet = client.get("/app/wallet").text
    assert '<p class="amount-big" id="wallet-balance">¥62.50</p>' in wallet


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        ("zh_CN", "适用商品满¥30.00才能使用此券（本单¥12.00）。"),
        ("en", "Spend at least ¥30.00 on the items this coupon covers (this order: ¥12.00)."),
    ],
)
def test_a_coupon_below_its_minimum_spend_refuses_the_order(
    client: TestClient, world: World, locale: str, message: str
) -> None:
    coupon = give(client, world.consumer_id, create_activity(client, world))
    app_sign_in(client, world.consumer_id)
    client.cookies.set("ccare_locale", locale)
    form = basket(world, noodles=1, checkout="1", coupon_id=[str(coupon)])
    r = client.post("/app/orders", data=form)
    assert r.status_code == 422
    assert f'<p class="flash flash-error" role="alert">{message}</p>' in r.text
    # Still the checkout, with the basket and the coupon as they were.
    assert 'id="checkout-form"' in r.text
    assert '<input type="hidden" name="quantity" value="1">' in r.text
    assert f'value="{coupon}" checked disabled>' in r.text
    assert client.get("/app/orders").text.count('class="card order-card"') == 0
    assert coupon_status(client, world.consumer_id, coupon) == "available"


def test_another_consumers_coupon_is_refused(client: TestClient, world: World) -> None:
    theirs = give(client, world.poor_consumer_id, create_activity(client, world))
    app_sign_in(client, world.consumer_id)
    client.cookies.set("ccare_locale", "en")
    form = basket(world, noodles=3, checkout="1", coupon_id=[str(theirs)])
    r = client.post("/app/orders", data=form)
    assert r.status_code == 422
    assert '<p class="flash flash-error" role="alert">This coupon is not in your wallet.</p>' in (
        r.text
    )


# --- claiming on the payment-success page ---------------------------------------------


def test_the_payment_success_page_offers_three_activities_and_claims_once(
    client: TestClient, world: World
) -> None:
    oldest = create_activity(client, world, out_biz_no="a1", name="满30减5")
    create_activity(client, world, out_biz_no="a2", name="Paused", activate=False)
    second = create_activity(
        client, world, out_biz_no="a3", name="满50减10", amount_fen=1000, floor_fen=5000
    )
    third = create_activity(
        client,
        world,
        out_biz_no="a4",
        name="九折券",
        kind="discount",
        pay_rate_bp=9000,
        ceiling_fen=1000,
        floor_fen=0,
    )
    newest = create_activity(
        client, world, out_biz_no="a5", name="满20减3", amount_fen=300, floor_fen=2000
    )
    gone = create_activity(client, world, out_biz_no="a6", name="Sold out", quantity=1)
    give(client, world.poor_consumer_id, gone)
    app_sign_in(client, world.consumer_id)
    order_id = paid_order(client, world)

    page = client.get(f"/app/orders/{order_id}?paid=1").text
    assert '<p class="flash flash-ok" role="status">支付成功。</p>' in page
    assert "<h3>下次光临可用的券</h3>" in page
    # Newest first, three at most; paused and sold-out activities are not offered.
    assert re.findall(r'<div class="coupon-row" data-activity="(\d+)">', page) == [
        str(newest),
        str(third),
        str(second),
    ]
    assert f'data-activity="{oldest}"' not in page
    row = re.search(rf'data-activity="{third}">(.*?)</div>', page, re.S)
    assert row is not None
    assert '<small class="coupon-offer">按90%支付，最高优惠¥10.00</small>' in row.group(1)
    assert f'<form method="post" action="/app/orders/{order_id}/coupons/{third}/claim">' in (
        row.group(1)
    )
    assert (
        '<button type="submit" class="outline" aria-label="领取九折券">领取</button>'
        in row.group(1)
    )

    claim = f"/app/orders/{order_id}/coupons/{third}/claim"
    for _ in range(2):  # a double click claims once
        r = client.post(claim, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, f"/app/orders/{order_id}?claimed=1")
    mine = client.get("/api/v1/me/coupons", headers=f.consumer_login(client, world.consumer_id))
    coupons = mine.json()
    assert [(c["activity_id"], c["channel"], c["status"]) for c in coupons] == [
        (third, "payment_success", "available")
    ]

    after = client.get(f"/app/orders/{order_id}?claimed=1").text
    assert '<p class="flash flash-ok" role="status">领取成功，已放入“我的券”。</p>' in after
    row = re.search(rf'data-activity="{third}">(.*?)</div>', after, re.S)
    assert row is not None
    assert (
        f'<span class="coupon-claimed" data-coupon="{coupons[0]["id"]}">✓ 已领取'
        '<a href="/app/coupons">在“我的券”中查看</a></span>' in row.group(1)
    )
    assert "<form" not in row.group(1)
    assert f'data-coupon="{coupons[0]["id"]}"' in client.get("/app/coupons").text

    client.cookies.set("ccare_locale", "en")
    en = client.get(f"/app/orders/{order_id}").text
    assert "<h3>Coupons for your next visit</h3>" in en
    assert '✓ Claimed<a href="/app/coupons">See it in My coupons</a>' in en


def test_a_limit_reached_and_an_unpaid_order_say_why(client: TestClient, world: World) -> None:
    activity = create_activity(client, world)
    give(client, world.consumer_id, activity)  # the one coupon a person may have
    app_sign_in(client, world.consumer_id)
    order_id = paid_order(client, world)
    # Nothing left to claim: no offer.
    assert 'id="coupon-offers"' not in client.get(f"/app/orders/{order_id}").text

    client.cookies.set("ccare_locale", "en")
    r = client.post(f"/app/orders/{order_id}/coupons/{activity}/claim")
    assert r.status_code == 409
    assert (
        '<p class="flash flash-error" role="alert">You have claimed the most allowed for this '
        "activity (1 per person).</p>" in r.text
    )

    unpaid = client.post(
        "/app/orders",
        data=basket(world, noodles=3, idempotency_key="unpaid"),
        follow_redirects=False,
    )
    assert unpaid.status_code == 200  # the checkout: this consumer holds a coupon
    form = basket(world, noodles=3, idempotency_key="unpaid", checkout="1")
    r = client.post("/app/orders", data=form, follow_redirects=False)
    unpaid_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.post(f"/app/orders/{unpaid_id}/coupons/{activity}/claim")
    assert r.status_code == 409
    assert "Coupons can be claimed once the order is paid." in r.text

    other = create_activity(client, world, out_biz_no="x")
    app_sign_in(client, world.poor_consumer_id)
    assert client.post(f"/app/orders/{order_id}/coupons/{other}/claim").status_code == 404


def test_a_claim_the_risk_checks_refuse_says_why_and_stays_on_record(
    client: TestClient, world: World, db: Database
) -> None:
    from ccare.coupons.models import BlacklistEntry, BlacklistKind, ClaimDecision

    activity = create_activity(client, world)
    app_sign_in(client, world.consumer_id)
    order_id = paid_order(client, world)
    with db.transaction() as s:
        s.add(BlacklistEntry(kind=BlacklistKind.ACCOUNT, value=str(world.consumer_id)))

    r = client.post(f"/app/orders/{order_id}/coupons/{activity}/claim")
    assert r.status_code == 403
    assert (
        '<p class="flash flash-error" role="alert">平台风控拒绝了本次领取：'
        "账号注册时间很短、账号、手机或网络在平台黑名单中。</p>" in r.text
    )
    client.cookies.set("ccare_locale", "en")
    r = client.post(f"/app/orders/{order_id}/coupons/{activity}/claim")
    assert (
        "The platform&#39;s risk checks refused this claim: the account is very new, the "
        "account, phone or network is on the platform&#39;s blacklist." in r.text
    )
    with db.transaction() as s:
        decisions = s.query(ClaimDecision).filter_by(consumer_id=world.consumer_id).all()
        assert [(d.activity_id, d.outcome.value) for d in decisions] == [
            (activity, "reject"),
            (activity, "reject"),
        ]
    mine = client.get("/api/v1/me/coupons", headers=f.consumer_login(client, world.consumer_id))
    assert mine.json() == []
