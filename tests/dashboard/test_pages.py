"""The merchant's C-CARE page: headline numbers with their deltas, chart data, the period
switch, the campaign ROI place, the <noscript> tables; in English and in Chinese."""

from __future__ import annotations

import html as htmllib
import json
import re

import pytest
from fastapi.testclient import TestClient

from ccare.runtime import Runtime
from ccare.web.charts import local_today
from tests.dashboard.conftest import Shop
from tests.dashboard.events import People, week
from tests.web.conftest import sign_in

PAGE = "/console/merchant/ccare"


@pytest.fixture
def recorded(runtime: Runtime, shop: Shop) -> Shop:
    people = People(shop.alice, shop.bob, 900_001, 900_002, 900_003, 900_004)
    assert runtime.analytics is not None
    runtime.analytics.record(
        week(local_today(), shop.merchant.merchant_id, shop.other.merchant_id, people)
    )
    return shop


def english(client: TestClient, shop: Shop) -> TestClient:
    client.cookies.set("ccare_locale", "en")
    sign_in(client, shop.merchant.owner_email, shop.merchant.password)
    return client


def value(page: str, key: str) -> str:
    found = re.search(rf'<p class="value" id="{key}">([^<]*)</p>', page)
    assert found is not None, key
    return htmllib.unescape(found.group(1))


def delta(page: str, key: str) -> tuple[str, str, str]:
    block = re.search(
        rf'data-kpi="{key}">.*?<p class="delta" data-trend="(\w+)" data-good="(\w+)">([^<]*)</p>',
        page,
        re.S,
    )
    assert block is not None, key
    return block.group(1), block.group(2), htmllib.unescape(block.group(3))


def chart(page: str, canvas: str) -> dict[str, object]:
    found = re.search(rf'id="{canvas}"[^>]*data-chart="([^"]+)"', page)
    assert found is not None, canvas
    data: dict[str, object] = json.loads(htmllib.unescape(found.group(1)))
    return data


def test_the_page_shows_four_sections_with_deltas(client: TestClient, recorded: Shop) -> None:
    r = english(client, recorded).get(PAGE, params={"days": 7})
    assert r.status_code == 200, r.text
    page = r.text
    assert "<title>C-CARE dashboard · ccare</title>" in page
    for section in ("scale", "active", "worth", "efficiency"):
        assert f'<section class="panel ccare-section" id="{section}">' in page
    assert value(page, "new-customers") == "2"
    assert delta(page, "new-customers") == ("flat", "none", "0 (0.0%) · vs the previous 7 days")
    assert value(page, "wau") == "5"
    assert delta(page, "wau") == ("up", "yes", "+3 (+150.0%) · vs the previous 7 days")
    assert value(page, "average-dau") == "1.14"
    assert value(page, "repeat-visit-rate") == "40.0%"
    assert delta(page, "repeat-visit-rate")[2] == "+40 pts · vs the previous 7 days"
    assert value(page, "favorites-net") == "1"
    assert "2 added, 1 removed" in page
    assert value(page, "favoriters") == "2"
    assert value(page, "gmv") == "¥98.00"
    assert delta(page, "gmv") == ("up", "yes", "+¥68.00 (+226.7%) · vs the previous 7 days")
    assert "¥108.00 paid, ¥10.00 refunded" in page
    assert value(page, "average-order-value") == "¥21.60"
    assert delta(page, "average-order-value") == ("down", "no", "-¥8.40 · vs the previous 7 days")
    assert value(page, "repurchase-rate") == "25.0%"
    assert value(page, "spend") == "¥3.00"
    # Less spend is good news.
    assert delta(page, "spend") == ("down", "yes", "-¥2.00 (-40.0%) · vs the previous 7 days")
    assert value(page, "cost-per-new-customer") == "¥1.50"
    assert value(page, "gmv-per-spend") == "32.67"
    assert '<tr data-source="coupon_discounts"><td>Coupon discounts</td>' in page
    rows = re.findall(r'<tr data-channel="(\w+)"><td>([^<]+)</td>', page)
    assert rows == [
        ("offline_qr", "Offline QR code"),
        ("storefront", "Storefront"),
        ("coupon_venue", "Coupon venue"),
        ("search", "Search"),
    ]


def test_the_charts_data(client: TestClient, recorded: Shop) -> None:
    page = english(client, recorded).get(PAGE, params={"days": 7}).text
    scale = chart(page, "new-customers-chart")
    assert [(d["label"], d["data"]) for d in scale["datasets"]] == [  # type: ignore[attr-defined]
        ("Offline QR code", [0, 0, 0, 0, 0, 0, 1]),
        ("Storefront", [1, 0, 0, 0, 0, 0, 0]),
    ]
    assert len(scale["labels"]) == 7  # type: ignore[arg-type]
    active = chart(page, "active-chart")
    assert (active["dau"], active["wau"]) == ([2, 1, 1, 1, 1, 1, 1], [3, 3, 3, 3, 3, 4, 5])
    assert chart(page, "gmv-chart")["gmv"] == [0, 15.0, 20.0, 0, 40.0, -2.0, 25.0]
    # Without JavaScript the same series are tables.
    noscript = re.findall(r"<noscript>(.*?)</noscript>", page, re.S)
    assert len(noscript) == 3
    assert "¥-2.00" not in noscript[2] and "-¥2.00" in noscript[2]


def test_the_period_switch_and_the_campaign_place(client: TestClient, recorded: Shop) -> None:
    c = english(client, recorded)
    page = c.get(PAGE).text  # 30 days by default
    current = re.findall(r'data-days="(\d+)" aria-current="page"', page)
    assert current == ["30"]
    assert re.findall(r'href="/console/merchant/ccare\?days=(\d+)"', page) == ["7", "30", "90"]
    assert value(page, "gmv") == "¥128.00"  # 138.00 paid in 30 days, 10.00 refunded
    assert '<table id="campaigns">' in page
    assert "No campaigns in this period." in page
    page = c.get(PAGE, params={"days": 90}).text
    assert re.findall(r'data-days="(\d+)" aria-current="page"', page) == ["90"]
    assert "vs the previous 90 days" in page


def test_an_empty_merchant_page(client: TestClient, shop: Shop) -> None:
    client.cookies.set("ccare_locale", "en")
    sign_in(client, shop.other.owner_email, shop.other.password)
    page = client.get(PAGE).text
    assert value(page, "new-customers") == "0"
    assert value(page, "repeat-visit-rate") == "—"
    assert value(page, "average-order-value") == "—"
    assert value(page, "cost-per-new-customer") == "—"
    assert "No new customers in these periods yet." in page
    assert chart(page, "new-customers-chart")["datasets"] == []


def test_a_bad_period_is_an_error_page(client: TestClient, shop: Shop) -> None:
    english(client, shop)
    r = client.get(PAGE, params={"days": 365})
    assert r.status_code == 422
    assert "<title>" in r.text and "days must be between 7 and 90" in r.text


def test_signed_out_people_go_to_sign_in(client: TestClient) -> None:
    r = client.get(PAGE, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/login")


def test_the_page_in_chinese(client: TestClient, recorded: Shop) -> None:
    """Passes once /tmp/i18n/dashboard.json is merged into the catalogs."""
    sign_in(client, recorded.merchant.owner_email, recorded.merchant.password)
    client.cookies.set("ccare_locale", "zh_CN")
    page = client.get(PAGE, params={"days": 7}).text
    assert "<title>C-CARE 经营看板 · ccare</title>" in page
    assert "新增顾客" in page and "复访率" in page and "复购率" in page and "获客成本" in page
    assert "较前 7 天" in page
