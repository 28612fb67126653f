"""A consumer favorites a mini-program in Chromium: the gift offer before, the HTMX toggle
swapping the panel in place, the gift after, "my mini-programs" on the home page; then the
same toggle with JavaScript off, as a plain form post."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests import factories as f
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CCARE_E2E_SCREENSHOTS", "/tmp/ccare-e2e"))


def _seed(live_server: LiveServer) -> tuple[int, int]:
    from ccare.coupons.schemas import ActivityCreate
    from ccare.coupons.service import create_activity
    from ccare.favorites import settings
    from ccare.favorites.schemas import SettingsIn

    db = live_server.runtime.db
    merchant = f.make_merchant(db, name="西湖早餐")
    mp = f.make_mini_program(db, merchant.merchant_id, name="西湖早餐铺")
    gift = ActivityCreate.model_validate(
        {
            "merchant_id": merchant.merchant_id,
            "out_biz_no": "gift",
            "name": "收藏礼",
            "kind": "fixed",
            "amount_fen": 500,
            "floor_fen": 3000,
            "quantity": 10,
            "claim_begin": datetime(2026, 1, 1, tzinfo=UTC),
            "claim_end": datetime(2099, 1, 1, tzinfo=UTC),
            "validity": {"days_after_claim": 7},
            "activate": True,
        }
    )
    with db.transaction() as s:
        activity = create_activity(s, f.FACTORY_OPERATOR, gift)
        settings.put_settings(s, f.FACTORY_OPERATOR, mp, SettingsIn(gift_activity_id=activity.id))
    return mp, f.make_consumer(db, name="小明")


def test_a_consumer_favorites_with_and_without_javascript(
    live_server: LiveServer, browser: Browser
) -> None:
    mp, consumer = _seed(live_server)
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)

    app = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = app.new_page()
    page.goto(f"{base}/app/login")
    page.locator(f"button[data-consumer='{consumer}']").click()
    page.wait_for_url(f"{base}/app")
    expect(page.locator("#my-mini-programs .empty-state")).to_have_text(
        "Favorite a mini-program to find it here."
    )
    page.goto(f"{base}/app/mp/{mp}")
    expect(page.locator("#gift-offer strong")).to_have_text("Favorite to get a coupon")
    page.screenshot(path=str(SHOTS / "app-favorite-offer.png"), full_page=True)

    page.evaluate("window.notReloaded = true")
    page.locator("#favorite-button").click()
    expect(page.locator("#favorite-panel")).to_have_attribute("data-favorited", "yes")
    expect(page.locator("#favorite-button")).to_have_text("★ Favorited")
    expect(page.locator("#gift-outcome")).to_have_attribute("data-outcome", "given")
    assert page.evaluate("window.notReloaded") is True  # swapped in place by HTMX
    assert page.url == f"{base}/app/mp/{mp}"
    page.screenshot(path=str(SHOTS / "app-favorited.png"), full_page=True)

    page.goto(f"{base}/app")
    page.locator(f"#my-mini-programs a[data-mp='{mp}']").click()
    page.wait_for_url(f"{base}/app/mp/{mp}?channel=favorites")

    # JavaScript off: the same button is a plain form post and a redirect back.
    plain = browser.new_context(
        locale="en-US", viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    plain.add_cookies(
        [
            {"name": c["name"], "value": c["value"], "domain": c["domain"], "path": c["path"]}
            for c in app.cookies()
        ]
    )
    nojs = plain.new_page()
    nojs.goto(f"{base}/app/mp/{mp}")
    expect(nojs.locator("#favorite-button")).to_have_text("★ Favorited")
    nojs.locator("#favorite-button").click()
    nojs.wait_for_url(f"{base}/app/mp/{mp}")
    expect(nojs.locator("#favorite-button")).to_have_text("☆ Favorite")
    expect(nojs.locator("#gift-offer")).to_have_count(0)  # the gift was once ever
    plain.close()
    app.close()
