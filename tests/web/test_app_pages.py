"""The consumer app: sign-in, home, storefront, ordering, paying and the wallet."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import World, app_sign_in

KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]{32})"')


def order_form(world: World, noodles: int = 0, dumplings: int = 0, key: str = "k1") -> dict:
    return {
        "mini_program_id": str(world.mini_program_id),
        "item_id": [str(world.noodles_id), str(world.dumplings_id)],
        "quantity": [str(noodles), str(dumplings)],
        "idempotency_key": key,
    }


def place(client: TestClient, world: World, **kwargs: int) -> int:
    r = client.post("/app/orders", data=order_form(world, **kwargs), follow_redirects=False)
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def test_login_lists_demo_consumers_and_signs_in(client: TestClient, world: World) -> None:
    page = client.get("/app/login")
    assert page.status_code == 200
    assert "<h1>选择账号</h1>" in page.text
    assert f'data-consumer="{world.consumer_id}"' in page.text
    assert "<strong>小明</strong>" in page.text
    assert "Hangzhou · 大众会员" in page.text
    r = client.post(
        "/app/login", data={"consumer_id": str(world.consumer_id)}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/app"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/app" in cookie
    home = client.get("/app")
    assert "你好，小明" in home.text
    assert f'<a class="mp-tile" href="/app/mp/{world.mini_program_id}">' in home.text


def test_unknown_consumer_cannot_sign_in(client: TestClient, world: World) -> None:
    client.cookies.set("ccare_locale", "en")
    r = client.post("/app/login", data={"consumer_id": "999999"})
    assert r.status_code == 401
    assert "This account does not exist." in r.text


def test_home_search(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    assert "西湖早餐铺" in client.get("/app?q=西湖").text
    client.cookies.set("ccare_locale", "en")
    miss = client.get("/app?q=pizza").text
    assert "Nothing found for “pizza”." in miss
    # HTMX asks for the list only.
    part = client.get("/app?q=西湖", headers={"HX-Request": "true"}).text
    assert part.startswith('<section id="mp-list">') and "<html" not in part


def test_storefront_in_both_locales(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    zh = client.get(f"/app/mp/{world.mini_program_id}").text
    assert "<h1>西湖早餐铺</h1>" in zh
    assert '<span class="price">¥12.00</span>' in zh
    assert '<span class="price">¥18.50</span>' in zh
    assert '<button type="submit" id="order-button">下单</button>' in zh
    assert KEY.search(zh)
    client.cookies.set("ccare_locale", "en")
    en = client.get(f"/app/mp/{world.mini_program_id}").text
    assert '<button type="submit" id="order-button">Order</button>' in en
    assert client.get("/app/mp/999999").status_code == 404


def test_order_then_pay(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    order_id = place(client, world, noodles=2, dumplings=1)
    page = client.get(f"/app/orders/{order_id}").text
    assert '<p class="amount-big" id="payable">¥42.50</p>' in page
    assert "支付 ¥42.50" in page
    assert "钱包余额：¥100.00" in page
    key = KEY.search(page).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/app/orders/{order_id}/pay", data={"idempotency_key": key}, follow_redirects=False
    )
    assert r.headers["location"] == f"/app/orders/{order_id}?paid=1"
    paid = client.get(r.headers["location"]).text
    assert '<p class="flash flash-ok" role="status">支付成功。</p>' in paid
    assert 'data-status="paid">已支付</span>' in paid
    assert 'id="pay-button"' not in paid
    assert '<p class="amount-big" id="wallet-balance">¥57.50</p>' in client.get("/app/wallet").text
    listing = client.get("/app/orders").text
    assert f'href="/app/orders/{order_id}"' in listing


def test_double_submits_act_once(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    first = place(client, world, noodles=1, key="same-order-form")
    again = place(client, world, noodles=1, key="same-order-form")
    assert again == first
    assert client.get("/app/orders").text.count('class="card order-card"') == 1
    for _ in range(2):
        r = client.post(
            f"/app/orders/{first}/pay",
            data={"idempotency_key": "same-pay-form"},
            follow_redirects=False,
        )
        assert r.status_code == 303
    wallet = client.get("/app/wallet").text
    assert '<p class="amount-big" id="wallet-balance">¥88.00</p>' in wallet


def test_insufficient_funds_says_so_and_links_the_wallet(client: TestClient, world: World) -> None:
    app_sign_in(client, world.poor_consumer_id)
    order_id = place(client, world, dumplings=1)
    r = client.post(f"/app/orders/{order_id}/pay", data={"idempotency_key": "p1"})
    assert r.status_code == 409
    assert '<p class="flash flash-error" role="alert">钱包余额不足，无法支付该订单。</p>' in r.text
    assert f'href="/app/wallet?next=/app/orders/{order_id}"' in r.text
    assert 'data-status="created">待支付</span>' in r.text
    client.cookies.set("ccare_locale", "en")
    r = client.post(f"/app/orders/{order_id}/pay", data={"idempotency_key": "p2"})
    assert "Your wallet balance is not enough to pay this order." in r.text
    assert ">Top up your wallet</a>" in r.text
    # Top up from the link, come back, pay.
    r = client.post(
        "/app/wallet/top-up",
        data={"amount": "20", "idempotency_key": "t1", "next": f"/app/orders/{order_id}"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/app/orders/{order_id}"
    r = client.post(
        f"/app/orders/{order_id}/pay", data={"idempotency_key": "p3"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert '<p class="amount-big" id="wallet-balance">¥1.50</p>' in client.get("/app/wallet").text


def test_order_needs_items(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    r = client.post("/app/orders", data=order_form(world))
    assert r.status_code == 422
    assert '<p class="flash flash-error" role="alert">请至少选择一件商品。</p>' in r.text


def test_top_up_once_per_form_and_validates_amounts(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    for _ in range(2):
        r = client.post(
            "/app/wallet/top-up",
            data={"amount": "50", "idempotency_key": "top-form"},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/app/wallet?topped=1"
    page = client.get("/app/wallet?topped=1").text
    assert '<p class="amount-big" id="wallet-balance">¥150.00</p>' in page
    assert "充值成功。" in page
    r = client.post("/app/wallet/top-up", data={"amount": "abc", "idempotency_key": "bad"})
    assert r.status_code == 422
    assert "请输入 ¥0.01 至 ¥100,000 之间的金额。" in r.text


def test_another_consumers_order_is_not_found(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    order_id = place(client, world, noodles=1)
    app_sign_in(client, world.poor_consumer_id)
    r = client.get(f"/app/orders/{order_id}")
    assert r.status_code == 404
    assert "页面不存在" in r.text
    r = client.post(f"/app/orders/{order_id}/pay", data={"idempotency_key": "x"})
    assert r.status_code == 404


def test_cancel_an_unpaid_order(client: TestClient, world: World) -> None:
    app_sign_in(client, world.consumer_id)
    order_id = place(client, world, noodles=1)
    r = client.post(f"/app/orders/{order_id}/close", follow_redirects=False)
    assert r.status_code == 303
    assert 'data-status="closed">已关闭</span>' in client.get(f"/app/orders/{order_id}").text
