"""The consumer app's ad slots: each page loads its placement's slot after it renders; the
slot shows the ads of a real decision, a card in view reports its impression once, and a
tap records the click (charged at the second price) and lands on the advertiser's
mini-program. No ad, or no such placement, is an empty answer, never an error box."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.promotion.models import AdClick, AdCreative, AdImpression, ClickStatus
from tests import factories as f
from tests.brand_bookings.conftest import balance, fund, make_creative
from tests.web.conftest import app_sign_in

BEACON = re.compile(r"hx-vals='\{\"token\": \"([^\"]+)\"\}'")
CLICK = re.compile(r'name="token" value="([^"]+)"')


def advertiser(db: Database) -> tuple[int, int]:
    """(merchant, landing mini-program) of a funded home-feed ad bidding 50 fen a click."""
    m = f.make_merchant(db)
    creative_id = make_creative(db, m.merchant_id)
    fund(db, m.merchant_id, 100_000)
    with db.transaction() as s:
        creative = s.get(AdCreative, creative_id)
        assert creative is not None
        return m.merchant_id, creative.mini_program_id


def test_the_home_feed_shows_an_ad_counts_it_once_and_a_tap_lands_and_pays(
    client: TestClient, db: Database
) -> None:
    merchant, landing = advertiser(db)
    app_sign_in(client, f.make_consumer(db))
    home = client.get("/app").text
    assert 'hx-get="/app/ad-slots/home_feed" hx-trigger="load"' in home
    slot = client.get("/app/ad-slots/home_feed")
    assert slot.status_code == 200
    assert slot.text.count('class="ad-card"') == 1
    assert "<strong>新年好</strong>" in slot.text
    assert 'hx-trigger="intersect once"' in slot.text
    (seen,) = BEACON.findall(slot.text)
    (tap,) = CLICK.findall(slot.text)
    first = client.post("/app/ad-events/impressions", data={"token": seen})
    again = client.post("/app/ad-events/impressions", data={"token": seen})
    assert (first.status_code, again.status_code) == (204, 409)
    with db.transaction() as s:  # seen a while ago: a person's tap, not a bot's
        s.execute(
            text("UPDATE ad_impressions SET created_at = :t"),
            {"t": utcnow() - timedelta(seconds=5)},
        )
    r = client.post("/app/ads/click", data={"token": tap}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/app/mp/{landing}?channel=ad")
    with db.transaction() as s:
        click = s.scalars(select(AdClick)).one()
        assert (click.status, click.cost_millifen) == (ClickStatus.BILLED, 20_000)
        assert s.scalar(select(AdImpression.consumer_id)) == click.consumer_id
    assert balance(db, merchant) == 100_000 - 20  # the home feed's 20-fen reserve: no rival


def test_no_ad_and_unknown_slots_answer_empty(client: TestClient, db: Database) -> None:
    app_sign_in(client, f.make_consumer(db))
    assert client.get("/app/ad-slots/home_feed").status_code == 204
    assert client.get("/app/ad-slots/no_such_place").status_code == 204
    forged = client.post("/app/ad-events/impressions", data={"token": "forged.token.x"})
    assert forged.status_code == 422
    tapped = client.post("/app/ads/click", data={"token": "forged"}, follow_redirects=False)
    assert (tapped.status_code, tapped.headers["location"]) == (303, "/app")


def test_search_pages_load_the_search_slot_and_a_paid_order_its_own(
    client: TestClient, db: Database
) -> None:
    app_sign_in(client, f.make_consumer(db))
    page = client.get("/app", params={"q": "早餐 豆浆"}).text
    assert 'hx-get="/app/ad-slots/search_results?q=%E6%97%A9%E9%A4%90%20%E8%B1%86%E6%B5%86"' in page
    assert "/app/ad-slots/search_results" not in client.get("/app").text
    assert 'hx-get="/app/ad-slots/coupon_venue"' in client.get("/app/coupons").text


def test_slots_are_for_signed_in_consumers(client: TestClient) -> None:
    r = client.get("/app/ad-slots/home_feed", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/app/login")
