"""The merchant's customer pages, in English (and one check of the Chinese texts)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.profiles.conftest import Shop
from tests.profiles.test_profiles_api import customers  # noqa: F401  (fixture)
from tests.web.conftest import sign_in

PAGE = "/console/merchant/customers"


def english(client: TestClient, shop: Shop) -> TestClient:
    client.cookies.set("ccare_locale", "en")
    sign_in(client, shop.merchant.owner_email, shop.merchant.password)
    return client


def test_customer_list_with_rfm_chart_and_filters(client: TestClient, customers: Shop) -> None:  # noqa: F811
    r = english(client, customers).get(PAGE)
    assert r.status_code == 200, r.text
    html = r.text
    assert "<title>Customers · ccare</title>" in html
    chart = re.search(r'id="rfm-chart"[^>]*data-chart="([^"]+)"', html)
    assert chart is not None
    data = json.loads(chart.group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert data["labels"] == [
        "Champions",
        "Loyal",
        "New",
        "Potential",
        "At risk",
        "Hibernating",
        "Lost",
        "Prospects",
    ]
    assert data["counts"] == [0, 0, 0, 1, 0, 0, 0, 1]
    assert "2 customers" in html
    rows = re.findall(r'<tr data-consumer="(\d+)">', html)
    assert rows == [str(customers.bob), str(customers.alice)]
    assert f'href="/console/merchant/customers/{customers.alice}"' in html
    assert "Offline" in html  # Alice came from an offline visit

    filtered = client.get(PAGE, params={"segment": "potential", "sort": "gmv"}).text
    assert re.findall(r'<tr data-consumer="(\d+)">', filtered) == [str(customers.alice)]
    assert "1 customer<" in filtered
    assert '<option value="potential" selected>' in filtered


def test_customer_page_shows_profile_and_timeline(client: TestClient, customers: Shop) -> None:  # noqa: F811
    r = english(client, customers).get(f"{PAGE}/{customers.alice}")
    assert r.status_code == 200, r.text
    html = r.text
    assert f"Customer #{customers.alice}" in html
    assert re.search(r'<dd id="orders">2</dd>', html)
    assert re.search(r'<dd id="visits">2</dd>', html)
    assert re.search(r'<dd id="gmv">¥42.00</dd>', html), html
    assert 'data-segment="potential"' in html and "Potential" in html
    types = re.findall(r'data-type="([a-z._]+)"', html)
    assert sorted(types) == ["customer.event", "customer.event", "order.paid", "order.paid"]
    assert "Paid an order" in html and "Event from your system" in html
    assert "page=menu" in html


def test_another_merchants_customer_is_not_found(client: TestClient, customers: Shop) -> None:  # noqa: F811
    client.cookies.set("ccare_locale", "en")
    sign_in(client, customers.other.owner_email, customers.other.password)
    r = client.get(f"{PAGE}/{customers.alice}")
    assert r.status_code == 404
    assert "<title>Page not found · ccare</title>" in r.text
    listing = client.get(PAGE).text
    assert re.findall(r'<tr data-consumer="(\d+)">', listing) == []
    assert "No customers match these filters yet." in listing


def test_signed_out_people_go_to_sign_in(client: TestClient) -> None:
    r = client.get(PAGE, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/login")


def test_customer_list_in_chinese(client: TestClient, customers: Shop) -> None:  # noqa: F811
    """Passes once /tmp/i18n/profiles.json is merged into the catalogs."""
    sign_in(client, customers.merchant.owner_email, customers.merchant.password)
    client.cookies.set("ccare_locale", "zh_CN")
    html = client.get(PAGE).text
    assert "RFM 分层" in html and "潜力客户" in html
