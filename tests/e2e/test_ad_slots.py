"""A consumer sees an ad on the app's home page in Chromium: the slot loads after the page,
the card in view reports its impression (HTMX `intersect`), and a tap lands on the
advertiser's mini-program with the click charged."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select, text

from ccare.core.time import utcnow
from ccare.promotion.models import AdClick, AdCreative, AdImpression, ClickStatus
from tests import factories as f
from tests.brand_bookings.conftest import fund, make_creative
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CCARE_E2E_SCREENSHOTS", "/tmp/ccare-e2e"))


def _impressions(live_server: LiveServer) -> int:
    with live_server.runtime.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(AdImpression)) or 0)


def test_an_ad_on_the_home_page_is_seen_once_and_tapped(
    live_server: LiveServer, browser: Browser
) -> None:
    db = live_server.runtime.db
    m = f.make_merchant(db, name="新年铺")
    creative_id = make_creative(db, m.merchant_id)
    fund(db, m.merchant_id, 100_000)
    with db.transaction() as s:
        landing = s.scalar(select(AdCreative.mini_program_id).where(AdCreative.id == creative_id))
    consumer = f.make_consumer(db, name="小红")
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)

    page = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    page.goto(f"{base}/app/login")
    page.locator(f"button[data-consumer='{consumer}']").click()
    page.wait_for_url(f"{base}/app")
    card = page.locator(".ad-slot[data-placement='home_feed'] .ad-card")
    expect(card).to_have_count(1)
    expect(card.locator("strong")).to_have_text("新年好")
    expect(card.locator(".ad-label")).to_have_text("广告")
    deadline = time.monotonic() + 10
    while _impressions(live_server) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _impressions(live_server) == 1
    page.screenshot(path=str(SHOTS / "app-ad-slot.png"), full_page=True)
    with db.transaction() as s:  # seen a while ago: a person's tap, not a bot's
        s.execute(
            text("UPDATE ad_impressions SET created_at = :t"),
            {"t": utcnow() - timedelta(seconds=5)},
        )
    card.locator("button").click()
    page.wait_for_url(f"{base}/app/mp/{landing}?channel=ad")
    with db.transaction() as s:
        click = s.scalars(select(AdClick)).one()
        assert (click.status, click.cost_millifen) == (ClickStatus.BILLED, 20_000)
    assert _impressions(live_server) == 1
