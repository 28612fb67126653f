"""A consumer orders and pays in the app; the merchant sees the paid order in the console."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import factories as f
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CCARE_E2E_SCREENSHOTS", "/tmp/ccare-e2e"))


def _seed(server: LiveServer) -> dict[str, object]:
    from ccare.ledger.service import top_up

    db = server.runtime.db
    merchant = f.make_merchant(db, name="西湖早餐", owner_email="owner@breakfast.test")
    mini_program = f.make_mini_program(db, merchant.merchant_id, name="西湖早餐铺")
    noodles = f.make_item(db, merchant.merchant_id, mini_program, name="葱油拌面", price_fen=1200)
    f.make_item(db, merchant.merchant_id, mini_program, name="鲜肉小笼", price_fen=1850, stock=20)
    consumer = f.make_consumer(db, name="小明")
    with db.transaction() as s:
        top_up(s, consumer, 10_000, "e2e-seed")
    return {
        "merchant": merchant,
        "mini_program": mini_program,
        "noodles": noodles,
        "consumer": consumer,
    }


def test_consumer_orders_and_pays_then_merchant_sees_it(live_server: LiveServer, browser) -> None:  # type: ignore[no-untyped-def]
    world = _seed(live_server)
    merchant: f.MerchantRef = world["merchant"]  # type: ignore[assignment]
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)

    # --- consumer, on a phone-sized screen, in Chinese (the default locale)
    app = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=1
    )
    page = app.new_page()
    page.goto(f"{base}/app/login")
    page.locator(f"button[data-consumer='{world['consumer']}']").click()
    page.wait_for_url(f"{base}/app")
    assert page.locator("h1").inner_text() == "发现"
    page.get_by_role("link", name="西湖早餐铺").click()
    page.wait_for_url(f"{base}/app/mp/{world['mini_program']}")
    page.locator(f"input[data-item='{world['noodles']}']").fill("2")
    assert page.locator("#order-total").inner_text() == "¥24.00"
    page.screenshot(path=str(SHOTS / "app-storefront.png"), full_page=True)
    page.locator("#order-button").click()
    page.wait_for_url(f"{base}/app/orders/*")
    assert page.locator("#payable").inner_text() == "¥24.00"
    page.locator("#pay-button").click()
    page.wait_for_url("**/app/orders/*?paid=1")
    assert page.locator("#order-status [data-status]").get_attribute("data-status") == "paid"
    assert page.locator("#order-status").inner_text().strip() == "已支付"
    assert page.get_by_role("status").inner_text() == "支付成功。"
    trade_no = page.locator(".order-line .mono").inner_text().strip()
    assert len(trade_no) >= 16
    page.screenshot(path=str(SHOTS / "app-order-paid.png"), full_page=True)
    app.close()

    # --- merchant owner, in the console
    console = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = console.new_page()
    page.goto(f"{base}/console/merchant/orders")
    page.wait_for_url("**/console/login?next=**")
    assert page.url == f"{base}/console/login?next=/console/merchant/orders"
    page.get_by_label("邮箱").fill(merchant.owner_email)
    page.get_by_label("密码").fill(merchant.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/merchant/orders")
    row = page.locator(f"tr[data-trade-no='{trade_no}']")
    assert row.count() == 1
    assert row.locator("[data-status]").get_attribute("data-status") == "paid"
    assert row.locator(".badge").inner_text() == "已支付"
    assert "¥24.00" in row.inner_text()
    page.screenshot(path=str(SHOTS / "console-orders.png"), full_page=True)

    # The same page in English, through the language switch.
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1.page-title")).to_have_text("Orders")
    assert page.url == f"{base}/console/merchant/orders"
    assert row.locator(".badge").inner_text() == "Paid"
    console.close()
