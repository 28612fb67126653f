"""The owner opens the C-CARE page in Chromium: the three charts draw on their canvases with
the week's numbers, the period switch reloads them for 30 days; with JavaScript off the
same series are tables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ccare.web.charts import local_today
from tests import factories as f
from tests.dashboard.events import People, week
from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CCARE_E2E_SCREENSHOTS", "/tmp/ccare-e2e"))
CANVASES = ("new-customers-chart", "active-chart", "gmv-chart")


def _painted(page: Page, canvas: str) -> int:
    """How many pixels of the canvas are not transparent."""
    count: int = page.evaluate(
        """(id) => {
          const c = document.getElementById(id);
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) n++; }
          return n;
        }""",
        canvas,
    )
    return count


def test_the_owner_sees_the_charts_draw(live_server: LiveServer, browser: Browser) -> None:
    db = live_server.runtime.db
    merchant = f.make_merchant(db, name="西湖早餐", owner_email="owner@breakfast.test")
    other = f.make_merchant(db, name="Other Shop")
    alice, bob = f.make_consumer(db, name="Alice"), f.make_consumer(db, name="Bob")
    analytics = live_server.runtime.analytics
    assert analytics is not None
    people = People(alice, bob, 900_001, 900_002, 900_003, 900_004)
    analytics.record(week(local_today(), merchant.merchant_id, other.merchant_id, people))
    base = live_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(locale="en-US", viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/console/merchant/ccare?days=7")
    page.wait_for_url("**/console/login?next=**")
    page.get_by_label("Email").fill(merchant.owner_email)
    page.get_by_label("Password").fill(merchant.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/merchant/ccare?days=7")
    expect(page.locator("h1.page-title")).to_have_text("C-CARE dashboard")
    expect(page.locator("#gmv")).to_have_text("¥98.00")

    page.wait_for_function(
        "(ids) => window.Chart && ids.every((id) => Chart.getChart(id) !== undefined)",
        arg=list(CANVASES),
    )
    charts = page.evaluate(
        """(ids) => ids.map((id) => {
          const c = Chart.getChart(id);
          return { type: c.config.type, labels: c.data.labels.length,
                   datasets: c.data.datasets.map((d) => [d.label, d.data]) };
        })""",
        list(CANVASES),
    )
    scale, active, gmv = charts
    assert (scale["type"], scale["labels"]) == ("bar", 7)
    assert scale["datasets"] == [
        ["Offline QR code", [0, 0, 0, 0, 0, 0, 1]],
        ["Storefront", [1, 0, 0, 0, 0, 0, 0]],
    ]
    assert page.evaluate("Chart.getChart('new-customers-chart').options.scales.y.stacked") is True
    assert active["type"] == "line"
    assert active["datasets"] == [
        ["Daily active", [2, 1, 1, 1, 1, 1, 1]],
        ["Weekly active (7 days)", [3, 3, 3, 3, 3, 4, 5]],
    ]
    assert gmv["datasets"] == [["GMV (¥)", [0, 15, 20, 0, 40, -2, 25]]]
    for canvas in CANVASES:
        box = page.locator(f"#{canvas}").bounding_box()
        assert box is not None and box["height"] > 100 and box["width"] > 200, canvas
        assert _painted(page, canvas) > 1_000, canvas
    page.screenshot(path=str(SHOTS / "console-ccare-7-days.png"), full_page=True)

    # The period switch: 30 days, the same charts redrawn with 30 points.
    page.locator("#period").get_by_role("link", name="Last 30 days").click()
    page.wait_for_url(f"{base}/console/merchant/ccare?days=30")
    expect(page.locator("#period a[aria-current='page']")).to_have_attribute("data-days", "30")
    expect(page.locator("#gmv")).to_have_text("¥128.00")
    page.wait_for_function("() => window.Chart && Chart.getChart('gmv-chart') !== undefined")
    assert page.evaluate("Chart.getChart('gmv-chart').data.labels.length") == 30
    assert _painted(page, "gmv-chart") > 1_000
    context.close()

    # Without JavaScript: no charts, the <noscript> tables instead.
    plain = browser.new_context(
        locale="en-US", viewport={"width": 1440, "height": 1000}, java_script_enabled=False
    )
    page = plain.new_page()
    page.goto(f"{base}/console/login?next=/console/merchant/ccare%3Fdays%3D7")
    page.get_by_label("Email").fill(merchant.owner_email)
    page.get_by_label("Password").fill(merchant.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console/merchant/ccare?days=7")
    expect(page.locator("#worth table tbody tr")).to_have_count(7)
    expect(page.locator("#worth table tbody tr").nth(5).locator("td").last).to_have_text("-¥2.00")
    page.screenshot(path=str(SHOTS / "console-ccare-no-js.png"), full_page=True)
    plain.close()
