"""Merchant, operator and ISV console pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ccare.core.worker import InProcessTransport, drain
from ccare.runtime import Runtime
from tests import factories as f
from tests.web.conftest import World, app_sign_in, sign_in

KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]{32})"')


def paid_order(client: TestClient, world: World, noodles: int = 1, dumplings: int = 0) -> int:
    """The consumer orders and pays through the app pages; the console session is kept."""
    console_cookie = client.cookies.get("ccare_session", path="/console")
    app_sign_in(client, world.consumer_id)
    lines = {
        "item_id": [str(world.noodles_id), str(world.dumplings_id)],
        "quantity": [str(noodles), str(dumplings)],
    }
    r = client.post(
        "/app/orders",
        data={
            "mini_program_id": str(world.mini_program_id),
            "idempotency_key": f"o{noodles}{dumplings}",
            **lines,
        },
        follow_redirects=False,
    )
    order_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.post(
        f"/app/orders/{order_id}/pay",
        data={"idempotency_key": f"p{order_id}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    client.cookies.delete("ccare_session", path="/app")
    if console_cookie:
        client.cookies.set("ccare_session", console_cookie, path="/console")
    return order_id


def owner(client: TestClient, world: World) -> None:
    sign_in(client, world.merchant.owner_email, world.merchant.password)


def test_dashboard_shows_kpis_and_the_daily_chart(
    client: TestClient, world: World, runtime: Runtime
) -> None:
    paid_order(client, world, noodles=2)  # ¥24.00
    paid_order(client, world, noodles=1, dumplings=1)  # ¥30.50
    drain(runtime.db, InProcessTransport(runtime.db, runtime.analytics))
    owner(client, world)
    zh = client.get("/console/merchant").text
    assert '<h1 class="page-title">经营概览</h1>' in zh
    assert re.search(
        r'data-kpi="orders-today">\s*<p class="label">今日支付订单</p>\s*<p class="value">2</p>', zh
    )
    assert re.search(
        r'data-kpi="gmv-today">\s*<p class="label">今日成交额</p>\s*<p class="value">¥54.50</p>', zh
    )
    # 54.50 paid, 0.60% platform fee (0.14 + 0.18) withheld
    assert re.search(
        r'data-kpi="balance">\s*<p class="label">结算账户余额</p>\s*<p class="value">¥54.18</p>', zh
    )
    assert 'id="sales-chart"' in zh and "/assets/chart.js/dist/chart.umd.min.js" in zh
    assert (
        "&#34;gmv&#34;: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 54.5]"
        in zh
    )
    assert "&#34;orders&#34;: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]" in zh
    client.cookies.set("ccare_locale", "en")
    en = client.get("/console/merchant").text
    assert '<p class="label">Today\'s GMV</p>' in en or '<p class="label">Today&#39;s GMV</p>' in en
    assert "GMV and orders per day" in en


def test_orders_list_filters_by_status(client: TestClient, world: World) -> None:
    paid = paid_order(client, world)
    app_sign_in(client, world.consumer_id)
    client.post(
        "/app/orders",
        data={
            "mini_program_id": str(world.mini_program_id),
            "item_id": [str(world.noodles_id)],
            "quantity": ["3"],
            "idempotency_key": "unpaid",
        },
    )
    owner(client, world)
    everything = client.get("/console/merchant/orders").text
    assert everything.count("<tr data-trade-no=") == 2
    only_paid = client.get("/console/merchant/orders?status=paid").text
    assert only_paid.count("<tr data-trade-no=") == 1
    assert f'href="/console/merchant/orders/{paid}"' in only_paid
    assert 'data-status="paid">已支付</span>' in only_paid
    tab = '<a href="/console/merchant/orders?status=paid" class="active" aria-current="true">'
    assert f"{tab}已支付</a>" in only_paid
    created = client.get("/console/merchant/orders?status=created").text
    assert created.count("<tr data-trade-no=") == 1
    assert 'data-status="created">待支付</span>' in created
    assert client.get("/console/merchant/orders?status=bogus").status_code == 422


def test_order_detail_and_partial_refund(client: TestClient, world: World) -> None:
    order_id = paid_order(client, world, noodles=1, dumplings=1)  # ¥30.50
    owner(client, world)
    page = client.get(f"/console/merchant/orders/{order_id}").text
    assert "<h2>订单信息</h2>" in page
    assert "可退金额：¥30.50" in page
    key = KEY.search(page).group(1)  # type: ignore[union-attr]
    form = {"amount": "10.5", "reason": "少了一份", "idempotency_key": key}
    for _ in range(2):  # a double submit refunds once
        r = client.post(
            f"/console/merchant/orders/{order_id}/refund", data=form, follow_redirects=False
        )
        assert r.headers["location"] == f"/console/merchant/orders/{order_id}?refunded=1"
    page = client.get(f"/console/merchant/orders/{order_id}?refunded=1").text
    assert '<p class="flash flash-ok" role="status">退款成功。</p>' in page
    assert 'data-status="partially_refunded">部分退款</span>' in page
    assert "可退金额：¥20.00" in page
    assert page.count("少了一份</td>") == 1
    # Too much: the error code's message, and nothing changes.
    client.cookies.set("ccare_locale", "en")
    r = client.post(
        f"/console/merchant/orders/{order_id}/refund",
        data={"amount": "20.01", "reason": "", "idempotency_key": "k-too-much"},
    )
    assert r.status_code == 409
    message = "The refund is larger than the amount left to refund."
    assert f'<p class="flash flash-error" role="alert">{message}</p>' in r.text
    assert "Refundable: ¥20.00" in r.text
    r = client.post(
        f"/console/merchant/orders/{order_id}/refund",
        data={"amount": "", "idempotency_key": "k-empty"},
    )
    assert r.status_code == 422
    assert "Please check the values you entered. (Amount)" in r.text


def test_clerks_see_orders_but_cannot_refund(client: TestClient, world: World) -> None:
    order_id = paid_order(client, world)
    sign_in(client, world.clerk.email, world.clerk.password)
    page = client.get(f"/console/merchant/orders/{order_id}").text
    assert "refund-form" not in page
    r = client.post(
        f"/console/merchant/orders/{order_id}/refund", data={"amount": "1", "idempotency_key": "c1"}
    )
    assert r.status_code == 403
    assert "您的角色无权执行此操作，请联系店主或店长。" in r.text


def test_another_merchants_order_is_not_found(client: TestClient, world: World) -> None:
    order_id = paid_order(client, world)
    sign_in(client, world.other.owner_email, world.other.password)
    r = client.get(f"/console/merchant/orders/{order_id}")
    assert r.status_code == 404
    assert "页面不存在" in r.text
    assert "西湖早餐" not in r.text
    r = client.post(
        f"/console/merchant/orders/{order_id}/refund", data={"amount": "1", "idempotency_key": "x1"}
    )
    assert r.status_code == 404
    assert client.get("/console/merchant/orders").text.count("<tr data-trade-no=") == 0


def test_catalog_create_and_edit_items(client: TestClient, world: World) -> None:
    owner(client, world)
    page = client.get("/console/merchant/catalog").text
    assert '<h1 class="page-title">小程序与商品</h1>' in page
    assert "<strong>葱油拌面</strong>" in page
    r = client.post(
        f"/console/merchant/catalog/mini-programs/{world.mini_program_id}/items",
        data={"name": "豆浆", "kind": "goods", "price": "3", "stock": "100", "description": "现磨"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/console/merchant/catalog?mp={world.mini_program_id}&saved=1"
    assert "<strong>豆浆</strong>" in client.get(r.headers["location"]).text
    r = client.post(
        f"/console/merchant/catalog/mini-programs/{world.mini_program_id}/items",
        data={"name": "", "price": "free"},
    )
    assert r.status_code == 422
    assert "请检查填写的内容。（" in r.text or "请检查填写的内容。 (" in r.text
    # HTMX edit answers the row.
    r = client.post(
        f"/console/merchant/catalog/items/{world.noodles_id}",
        data={"price": "13.5", "stock": "", "status": "off_sale"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith(f'<tr id="item-{world.noodles_id}">')
    assert 'name="price" value="13.50"' in r.text
    assert 'placeholder="∞"' in r.text and 'name="stock" value=""' in r.text
    assert '<option value="off_sale" selected>已下架</option>' in r.text
    # Off sale: gone from the storefront.
    app_sign_in(client, world.consumer_id)
    assert "葱油拌面" not in client.get(f"/app/mp/{world.mini_program_id}").text


def test_catalog_of_another_merchant_is_not_reachable(client: TestClient, world: World) -> None:
    sign_in(client, world.other.owner_email, world.other.password)
    r = client.post(f"/console/merchant/catalog/items/{world.noodles_id}", data={"price": "0.01"})
    assert r.status_code == 404
    assert "葱油拌面" not in client.get("/console/merchant/catalog").text


def test_stores_and_staff_pages(client: TestClient, world: World) -> None:
    owner(client, world)
    stores = client.get("/console/merchant/stores").text
    assert "<strong>Hefang Street</strong>" in stores
    r = client.post(
        "/console/merchant/stores",
        data={"name": "文三路店", "city": "Hangzhou", "address": "文三路 1 号"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "<strong>文三路店</strong>" in client.get("/console/merchant/stores").text
    staff = client.get("/console/merchant/staff").text
    assert world.clerk.email in staff and "店员" in staff
    r = client.post(
        "/console/merchant/staff",
        data={
            "name": "Ann",
            "email": world.clerk.email,
            "password": "long-enough-1",
            "role": "clerk",
        },
    )
    assert r.status_code == 422
    assert "该邮箱已被其他账号使用。" in r.text


def test_operator_pages(client: TestClient, world: World) -> None:
    sign_in(client, world.operator.email, world.operator.password)
    client.cookies.set("ccare_locale", "en")
    merchants = client.get("/console/operator/merchants").text
    assert "<strong>西湖早餐</strong>" in merchants and "<strong>Other Shop</strong>" in merchants
    r = client.post(
        f"/console/operator/merchants/{world.other.merchant_id}/status",
        data={"status": "suspended"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith(f'<tr id="merchant-{world.other.merchant_id}">')
    assert 'data-status="suspended">Suspended</span>' in r.text
    suspended = client.get("/console/operator/merchants?status=suspended").text
    assert "<strong>Other Shop</strong>" in suspended and "西湖早餐" not in suspended
    consumers = client.get("/console/operator/consumers").text
    assert "<strong>小明</strong>" in consumers and "Public member" in consumers
    assert "<strong>Kitchen ISV</strong>" in client.get("/console/operator/isvs").text
    ledger = client.get("/console/operator/ledger").text
    assert (
        '<tr data-kind="consumer_wallet"><td>Consumer wallets</td><td class="num">¥100.00</td></tr>'
        in ledger
    )
    assert '<span class="badge badge-active">Balanced</span>' in ledger


def test_isv_sees_the_merchants_that_granted_it_and_their_orders(
    client: TestClient, world: World, db
) -> None:  # type: ignore[no-untyped-def]
    order_id = paid_order(client, world)
    # An order of a merchant that did not grant the ISV.
    mp = f.make_mini_program(db, world.other.merchant_id, name="Other MP")
    item = f.make_item(db, world.other.merchant_id, mp, name="Other item", price_fen=100)
    app_sign_in(client, world.consumer_id)
    client.post(
        "/app/orders",
        data={
            "mini_program_id": str(mp),
            "item_id": [str(item)],
            "quantity": ["1"],
            "idempotency_key": "other",
        },
    )
    sign_in(client, world.isv.email, world.isv.password)
    home = client.get("/console/isv").text
    assert "<strong>西湖早餐</strong>" in home and "Other Shop" not in home
    orders = client.get("/console/isv/orders").text
    assert orders.count("<tr data-trade-no=") == 1
    assert f'href="/console/isv/orders/{order_id}"' in orders
    only = client.get(f"/console/isv/orders?merchant_id={world.merchant.merchant_id}").text
    assert only.count("<tr data-trade-no=") == 1
    assert (
        client.get(f"/console/isv/orders?merchant_id={world.other.merchant_id}").text.count(
            "<tr data-trade-no="
        )
        == 0
    )
    detail = client.get(f"/console/isv/orders/{order_id}")
    assert detail.status_code == 200 and "refund-form" not in detail.text
