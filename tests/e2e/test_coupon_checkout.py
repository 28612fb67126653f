"""A consumer claims a coupon on the payment-success page of a first order, then ticks it at
the checkout of a second order and pays the discounted amount."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests import factories as f
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CCARE_E2E_SCREENSHOTS", "/tmp/ccare-e2e"))
ORDER_PAGE = re.compile(r".*/app/orders/\d+$")


def _seed(server: LiveServer) -> dict[str, int]:
    from ccare.ledger.service import top_up

    db = server.runtime.db
    merchant = f.make_merchant(db, name="西湖早餐", owner_email="owner@breakfast.test")
    mini_program = f.make_mini_program(db, merchant.merchant_id, name="西湖早餐铺")
    noodles = f.make_item(db, merchant.merchant_id, mini_program, name="葱油拌面", price_fen=1200)
    dumplings = f.make_item(db, merchant.merchant_id, mini_program, name="鲜肉小笼", price_fen=1850)
    consumer = f.make_consumer(db, name="小明")
    with db.transaction() as s:
        top_up(s, consumer, 10_000, "e2e-seed")
    with httpx.Client(base_url=server.url, timeout=10) as api:
        r = api.post(
            "/api/v1/auth/login",
            json={"email": merchant.owner_email, "password": merchant.password},
        )
        assert r.status_code == 200, r.text
        r = api.post(
            "/api/v1/coupon-activities",
            json={
                "out_biz_no": "spend-30",
                "name": "满30减5",
                "kind": "fixed",
                "amount_fen": 500,
                "floor_fen": 3000,
                "quantity": 100,
                "user_limits": {"lifetime": 1},
                "validity": {"days_after_claim": 7},
                "claim_begin": "2026-01-01T00:00:00+08:00",
                "claim_end": "2099-01-01T00:00:00+08:00",
                "activate": True,
            },
            headers={"Authorization": f"Bearer {r.json()['token']}"},
        )
        assert r.status_code == 201, r.text
        activity = int(r.json()["id"])
    return {
        "mini_program": mini_program,
        "noodles": noodles,
        "dumplings": dumplings,
        "consumer": consumer,
        "activity": activity,
    }


def test_a_coupon_claimed_after_paying_takes_money_off_the_next_order(
    live_server: LiveServer, browser: Browser
) -> None:
    world = _seed(live_server)
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)
    app = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=1
    )
    page = app.new_page()
    page.goto(f"{base}/app/login")
    page.locator(f"button[data-consumer='{world['consumer']}']").click()
    page.wait_for_url(f"{base}/app")

    # --- the first order: no coupon yet, so no checkout step; pay, then claim
    page.goto(f"{base}/app/mp/{world['mini_program']}")
    page.locator(f"input[data-item='{world['noodles']}']").fill("1")
    page.locator("#order-button").click()
    page.wait_for_url(ORDER_PAGE)
    page.locator("#pay-button").click()
    page.wait_for_url("**/app/orders/*?paid=1")
    assert page.get_by_role("status").inner_text() == "支付成功。"
    offers = page.locator("#coupon-offers")
    expect(offers.locator("h3")).to_have_text("下次光临可用的券")
    row = offers.locator(f"[data-activity='{world['activity']}']")
    expect(row.locator(".coupon-offer")).to_have_text("满¥30.00减¥5.00")
    page.screenshot(path=str(SHOTS / "app-payment-success-offers.png"), full_page=True)
    row.get_by_role("button", name="领取满30减5").click()
    page.wait_for_url("**/app/orders/*?claimed=1")
    assert page.get_by_role("status").inner_text() == "领取成功，已放入“我的券”。"
    expect(row.locator(".coupon-claimed")).to_contain_text("已领取")
    expect(row.get_by_role("link", name="在“我的券”中查看")).to_have_attribute(
        "href", "/app/coupons"
    )

    # --- the second order: the checkout offers the coupon; ticking it previews the saving
    page.goto(f"{base}/app/mp/{world['mini_program']}")
    page.locator(f"input[data-item='{world['noodles']}']").fill("2")
    page.locator(f"input[data-item='{world['dumplings']}']").fill("1")
    assert page.locator("#order-total").inner_text() == "¥42.50"
    page.locator("#order-button").click()
    page.wait_for_url(f"{base}/app/orders")
    expect(page.locator("h1")).to_have_text("确认订单")
    expect(page.locator("#checkout-payable")).to_have_text("¥42.50")
    choice = page.locator("#checkout-coupons .coupon-choice").first
    expect(choice.locator(".coupon-saving")).to_have_text("-¥5.00")
    choice.locator("input[type=checkbox]").check()
    expect(page.locator("#checkout-quote .discount-line")).to_have_text("满30减5-¥5.00")
    expect(page.locator("#checkout-payable")).to_have_text("¥37.50")
    page.screenshot(path=str(SHOTS / "app-checkout-coupon.png"), full_page=True)
    page.locator("#place-order-button").click()
    page.wait_for_url(ORDER_PAGE)
    assert page.locator("#payable").inner_text() == "¥37.50"
    expect(page.locator(".discount-line")).to_have_text("满30减5-¥5.00")
    expect(page.locator("#pay-button")).to_have_text("支付 ¥37.50")
    page.locator("#pay-button").click()
    page.wait_for_url("**/app/orders/*?paid=1")
    assert page.locator("#order-status [data-status]").get_attribute("data-status") == "paid"
    # Only one coupon per person: nothing more to claim on this order.
    expect(page.locator("#coupon-offers")).to_have_count(0)
    page.goto(f"{base}/app/wallet")
    expect(page.locator("#wallet-balance")).to_have_text("¥50.50")
    app.close()
