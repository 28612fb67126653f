"""The owner creates a coupon activity in the console; a consumer claims a coupon through the
API and finds it in the app; the owner sees the claim on the activity page and its chart."""

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


def _claim(base: str, consumer_id: int, activity_id: int) -> dict[str, object]:
    with httpx.Client(base_url=base, timeout=10) as api:
        r = api.post("/api/v1/auth/consumer-login", json={"consumer_id": consumer_id})
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        r = api.post(
            f"/api/v1/coupon-activities/{activity_id}/claim",
            json={"channel": "coupon_venue", "claim_key": "e2e-1"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
        coupon: dict[str, object] = r.json()
        return coupon


def test_owner_creates_an_activity_and_a_consumer_claims_it(
    live_server: LiveServer, browser: Browser
) -> None:
    db = live_server.runtime.db
    merchant = f.make_merchant(db, name="西湖早餐", owner_email="owner@breakfast.test")
    consumer = f.make_consumer(db, name="小明")
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)

    # --- the owner creates an activity in the console
    console = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = console.new_page()
    page.goto(f"{base}/console/merchant/coupons")
    page.wait_for_url("**/console/login?next=**")
    page.get_by_label("邮箱").fill(merchant.owner_email)
    page.get_by_label("密码").fill(merchant.password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/console/merchant/coupons")
    expect(page.locator("h1.page-title")).to_have_text("商家券")
    expect(page.locator("#activities .empty-state")).to_have_text("还没有活动。")

    form = page.locator("#activity-form")
    form.get_by_label("名称").fill("满30减5")
    # Discount fields show only for discount coupons.
    expect(form.get_by_label("支付比例（百分比）")).to_be_hidden()
    form.get_by_label("减免金额（元）").fill("5")
    form.get_by_label("最低消费（元）").fill("30")
    form.get_by_label("数量").fill("100")
    form.get_by_label("每人限领").fill("1")
    expect(form.get_by_label("立即激活")).to_be_checked()
    form.get_by_role("button", name="创建活动").click()
    page.wait_for_url(re.compile(r".*/console/merchant/coupons/\d+\?created=1$"))
    activity_id = int(page.url.rsplit("/", 1)[1].split("?")[0])
    expect(page.get_by_role("status")).to_have_text("活动已创建。")
    expect(page.locator("h1.page-title")).to_have_text("满30减5")
    expect(page.locator("#activity-facts [data-status]")).to_have_text("进行中")
    expect(page.locator("#issued")).to_have_text("0")

    # --- a consumer claims a coupon through the API
    coupon = _claim(base, consumer, activity_id)
    assert (coupon["activity_id"], coupon["status"]) == (activity_id, "available")

    # --- the consumer finds it in the app's coupon wallet
    app = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=1
    )
    phone = app.new_page()
    phone.goto(f"{base}/app/login")
    phone.locator(f"button[data-consumer='{consumer}']").click()
    phone.wait_for_url(f"{base}/app")
    phone.get_by_role("link", name="我的券").click()
    phone.wait_for_url(f"{base}/app/coupons")
    expect(phone.locator("h1")).to_have_text("我的券")
    card = phone.locator(f"[data-coupon='{coupon['id']}']")
    expect(card.locator("strong")).to_have_text("西湖早餐")
    expect(card.locator("[data-status]")).to_have_text("可使用")
    expect(card.locator(".coupon-offer")).to_have_text("满¥30.00减¥5.00")
    expect(phone.locator("[data-group]")).to_have_count(1)
    phone.screenshot(path=str(SHOTS / "app-coupons.png"), full_page=True)
    app.close()

    # --- the owner sees the claim and the chart per channel
    page.goto(f"{base}/console/merchant/coupons/{activity_id}")
    expect(page.locator("#issued")).to_have_text("1")
    expect(page.locator("#remaining")).to_have_text("99")
    page.wait_for_function("() => window.Chart && Chart.getChart('channel-chart') !== undefined")
    chart = page.evaluate(
        "() => { const c = Chart.getChart('channel-chart');"
        " return {labels: c.data.labels, data: c.data.datasets[0].data}; }"
    )
    assert chart["data"] == [0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert chart["labels"][2] == "领券中心"
    box = page.locator("#channel-chart").bounding_box()
    assert box is not None and box["height"] > 100
    page.screenshot(path=str(SHOTS / "console-coupon-activity.png"), full_page=True)

    page.goto(f"{base}/console/merchant/coupons")
    row = page.locator(f"tr[data-activity='{activity_id}']")
    expect(row.locator(".issued")).to_have_text("1 / 100")
    console.close()
