"""GET /api/v1/dashboard/ccare: a merchant's own numbers; ISVs and operators name the
merchant; another merchant's staff cannot; a bad period is a 422 with its own code."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.runtime import Runtime
from ccare.web.charts import local_today
from tests.dashboard.conftest import Shop
from tests.dashboard.events import EXPECTED_7_DAYS, People, week
from tests.factories import consumer_login, login, make_operator

URL = "/api/v1/dashboard/ccare"


@pytest.fixture
def people(shop: Shop) -> People:
    return People(
        alice=shop.alice, bob=shop.bob, carol=900_001, dan=900_002, eve=900_003, zed=900_004
    )


@pytest.fixture
def recorded(runtime: Runtime, shop: Shop, people: People) -> Shop:
    assert runtime.analytics is not None
    runtime.analytics.record(
        week(local_today(), shop.merchant.merchant_id, shop.other.merchant_id, people)
    )
    return shop


@pytest.fixture
def owner(client: TestClient, shop: Shop) -> dict[str, str]:
    return login(client, shop.merchant.owner_email, shop.merchant.password)


def pair(metric: dict[str, object]) -> tuple[object, object]:
    return (metric["current"], metric["previous"])


def test_the_owner_reads_the_merchants_numbers(
    client: TestClient, recorded: Shop, owner: dict[str, str]
) -> None:
    r = client.get(URL, params={"days": 7}, headers=owner)
    assert r.status_code == 200, r.text
    body = r.json()
    e = EXPECTED_7_DAYS
    assert body["merchant_id"] == recorded.merchant.merchant_id
    assert body["period"]["days"] == 7
    assert body["period"]["last_day"] == local_today().isoformat()
    assert pair(body["scale"]["new_customers"]) == e["new_customers"]
    assert [x["dau"] for x in body["active"]["daily"]] == e["dau"]
    assert [x["wau"] for x in body["active"]["daily"]] == e["wau_daily"]
    for key in ("wau", "active_consumers", "repeat_visitors", "favoriters", "favorites_added"):
        assert pair(body["active"][key]) == e[key], key
    for key in ("gmv_fen", "paid_fen", "refunded_fen", "paid_orders", "buyers", "repeat_buyers"):
        assert pair(body["worth"][key]) == e[key], key
    assert body["worth"]["average_order_value_fen"] == {
        "current": 2_160,
        "previous": 3_000,
        "change": -840,
    }
    assert pair(body["efficiency"]["spend_fen"]) == e["spend_fen"]
    assert body["efficiency"]["by_source"] == [
        {
            "source": "coupon_discounts",
            "event_type": "coupon.used",
            "current_fen": 300,
            "previous_fen": 500,
        },
        {
            "source": "promotion",
            "event_type": "promotion.charged",
            "current_fen": 0,
            "previous_fen": 0,
        },
    ]
    assert body["efficiency"]["campaigns"] == []


def test_the_default_period_is_thirty_days(
    client: TestClient, recorded: Shop, owner: dict[str, str]
) -> None:
    body = client.get(URL, headers=owner).json()
    assert body["period"]["days"] == 30
    assert len(body["worth"]["daily"]) == 30
    assert pair(body["worth"]["paid_fen"]) == (13_800, 1_000)


@pytest.mark.parametrize("days", ["6", "91", "0", "-7", "100000000000000000000"])
def test_a_period_outside_7_to_90_days_is_refused(
    client: TestClient, shop: Shop, owner: dict[str, str], days: str
) -> None:
    r = client.get(URL, params={"days": days}, headers=owner)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "dashboard.invalid_days"
    assert body["details"] == {"minimum": 7, "maximum": 90}


def test_a_period_that_is_not_a_number_is_refused(
    client: TestClient, shop: Shop, owner: dict[str, str]
) -> None:
    r = client.get(URL, params={"days": "week"}, headers=owner)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")


def test_another_merchant_sees_only_its_own(client: TestClient, recorded: Shop) -> None:
    other = login(client, recorded.other.owner_email, recorded.other.password)
    body = client.get(URL, params={"days": 7}, headers=other).json()
    assert body["merchant_id"] == recorded.other.merchant_id
    # Alice's 999.99 order and Zed's coupon there; nothing of the first merchant's.
    assert pair(body["worth"]["paid_fen"]) == (99_999, 0)
    assert pair(body["efficiency"]["spend_fen"]) == (7_777, 0)
    r = client.get(
        URL, params={"merchant_id": recorded.merchant.merchant_id, "days": 7}, headers=other
    )
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")


def test_a_granted_isv_names_the_merchant(client: TestClient, recorded: Shop) -> None:
    isv = login(client, recorded.isv.email, recorded.isv.password)
    r = client.get(
        URL, params={"merchant_id": recorded.merchant.merchant_id, "days": 7}, headers=isv
    )
    assert r.status_code == 200, r.text
    assert pair(r.json()["worth"]["gmv_fen"]) == EXPECTED_7_DAYS["gmv_fen"]
    r = client.get(URL, params={"merchant_id": recorded.other.merchant_id}, headers=isv)
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")


def test_an_operator_must_say_which_merchant(
    client: TestClient, db: Database, recorded: Shop
) -> None:
    op = make_operator(db)
    h = login(client, op.email, op.password)
    r = client.get(URL, headers=h)
    assert (r.status_code, r.json()["code"]) == (422, "dashboard.merchant_required")
    r = client.get(URL, params={"merchant_id": recorded.merchant.merchant_id, "days": 7}, headers=h)
    assert pair(r.json()["scale"]["new_customers"]) == EXPECTED_7_DAYS["new_customers"]


@pytest.mark.parametrize(
    ("who", "status", "code"),
    [("nobody", 401, "auth.required"), ("consumer", 403, "auth.staff_only")],
)
def test_only_staff_may_read_it(
    client: TestClient, shop: Shop, who: str, status: int, code: str
) -> None:
    headers = consumer_login(client, shop.alice) if who == "consumer" else {}
    r = client.get(URL, headers=headers)
    assert (r.status_code, r.json()["code"]) == (status, code)


def test_the_route_is_documented_under_its_tag(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    op = spec["paths"][URL]["get"]
    assert op["tags"] == ["dashboard"]
    days = next(p for p in op["parameters"] if p["name"] == "days")
    assert (days["schema"]["minimum"], days["schema"]["maximum"], days["schema"]["default"]) == (
        7,
        90,
        30,
    )
    campaign = spec["components"]["schemas"]["CampaignRoiOut"]["properties"]
    assert sorted(campaign) == [
        "campaign_id",
        "cost_fen",
        "incremental_gmv_fen",
        "name",
        "roi",
    ]
