"""The merchant's brand-booking pages: availability with its no-script table, the HTMX
booking form (errors kept in the form), the delivery page, cancel, and another merchant's
booking as a 404 page; in English and in Chinese."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.time import local_date, utcnow
from tests import factories as f
from tests.brand_bookings.conftest import FUNDS, Advertiser, balance, inventory
from tests.web.conftest import sign_in

PAGE = "/console/merchant/brand-bookings"
KEY = re.compile(r'name="out_request_no" value="([0-9a-f]{32})"')
CANCEL_KEY = re.compile(r'name="key" value="([0-9a-f]{32})"')
HTMX = {"HX-Request": "true"}


def _form(client: TestClient, **fields: str) -> dict[str, str]:
    page = client.get(PAGE)
    match = KEY.search(page.text)
    assert match, "the form carries a once-only key"
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    return {
        "out_request_no": match.group(1),
        "placement": "five_blessings",
        "creative_id": fields.pop("creative_id"),
        "start_day": tomorrow.isoformat(),
        "end_day": (tomorrow + timedelta(days=1)).isoformat(),
        "guaranteed": "2000",
        **fields,
    }


def test_the_page_in_english(en: TestClient, adv: Advertiser) -> None:
    sign_in(en, adv.owner_email, adv.password)
    r = en.get(PAGE)
    assert r.status_code == 200, r.text
    assert 'lang="en"' in r.text
    assert "Availability in the next 14 days" in r.text
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    assert r.text.count(f'<tr data-day="{tomorrow.isoformat()}">') == 2  # both placements
    assert 'id="chart-five_blessings"' in r.text and 'id="chart-double_12"' in r.text
    assert "1,600,000" in r.text  # five_blessings sellable a day, no history yet
    assert "No booking yet." in r.text
    assert "¥50,000.00" in r.text  # the advertising balance
    assert f'<option value="{adv.creative_id}"' in r.text
    assert f'<option value="{adv.other_creative_id}"' not in r.text


def test_the_page_in_chinese(client: TestClient, adv: Advertiser) -> None:
    sign_in(client, adv.owner_email, adv.password)
    r = client.get(PAGE, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 200, r.text
    assert 'lang="zh-CN"' in r.text
    assert 'id="booking-form"' in r.text and 'id="bookings"' in r.text


def test_book_with_htmx_then_cancel(en: TestClient, adv: Advertiser, db: Database) -> None:
    sign_in(en, adv.owner_email, adv.password)
    bad = _form(en, creative_id=str(adv.creative_id), placement="home_feed")
    r = en.post(PAGE, data=bad, headers=HTMX)
    assert r.status_code == 422
    assert "Only brand placements can be booked." in r.text
    assert r.text.lstrip().startswith('<section class="panel" id="booking-form">')
    assert balance(db, adv.merchant_id) == FUNDS

    good = _form(en, creative_id=str(adv.creative_id))
    r = en.post(PAGE, data=good, headers=HTMX)
    assert r.status_code == 200, r.text
    assert 'id="form-notice"' in r.text and "Booked." in r.text
    assert 'id="bookings" hx-swap-oob="true"' in r.text
    assert "0 / 2,000" in r.text
    again = en.post(PAGE, data=good, headers=HTMX)  # a double click: booked once
    assert again.status_code == 200
    assert balance(db, adv.merchant_id) == FUNDS - 6_000
    booking_id = int(re.search(r'data-booking="(\d+)"', r.text).group(1))  # type: ignore[union-attr]

    detail = en.get(f"{PAGE}/{booking_id}")
    assert detail.status_code == 200
    assert 'id="guaranteed">2,000<' in detail.text and 'id="amount">¥60.00<' in detail.text
    assert detail.text.count('<tr data-day="') == 2
    key = CANCEL_KEY.search(detail.text).group(1)  # type: ignore[union-attr]
    r = en.post(f"{PAGE}/{booking_id}/cancel", data={"key": key}, follow_redirects=False)
    assert r.status_code == 303
    assert balance(db, adv.merchant_id) == FUNDS
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    assert inventory(db)[tomorrow] == (1_600_000, 0)
    assert 'data-status="cancelled"' in en.get(f"{PAGE}/{booking_id}").text


def test_a_plain_form_post_redirects(en: TestClient, adv: Advertiser, db: Database) -> None:
    sign_in(en, adv.owner_email, adv.password)
    r = en.post(PAGE, data=_form(en, creative_id=str(adv.creative_id)), follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{PAGE}?saved=1")
    page = en.get(f"{PAGE}?saved=1").text
    assert "Booked." in page and 'data-status="reserved"' in page
    r = en.post(PAGE, data=_form(en, creative_id=str(adv.creative_id), guaranteed="3000000"))
    assert r.status_code == 409
    assert "Your advertising balance is not enough for this booking." in r.text
    assert balance(db, adv.merchant_id) == FUNDS - 6_000


def test_another_merchants_booking_is_a_404_page(
    en: TestClient, adv: Advertiser, db: Database
) -> None:
    sign_in(en, adv.owner_email, adv.password)
    en.post(PAGE, data=_form(en, creative_id=str(adv.creative_id)))
    other = f.make_merchant(db, name="Other shop")
    en.cookies.clear()
    en.cookies.set("ccare_locale", "en")
    sign_in(en, other.owner_email, other.password)
    assert en.get(f"{PAGE}/1").status_code == 404
    assert en.post(f"{PAGE}/1/cancel", data={"key": "k" * 32}).status_code == 404
    assert balance(db, adv.merchant_id) == FUNDS - 6_000
