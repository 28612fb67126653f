"""The points API: the rule table, balance and ledger, redemption with its idempotency
and its refusals (exact codes, nothing written), tenancy, and the ad server's calls."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ccare.star_points import service
from ccare.star_points.models import StarPointEntry, StarPointGrant
from tests import factories as f
from tests.star_points.conftest import DAY1, Shop

REDEEM = "/api/v1/star-points/redemptions"


@pytest.fixture
def h(client: TestClient, shop: Shop) -> dict[str, str]:
    return f.login(client, shop.merchant.owner_email, shop.merchant.password)


def redeem(client: TestClient, h: dict[str, str], shop: Shop, **body: Any) -> Any:
    full = {"ad_group_id": shop.group_id, "points": 500, "out_request_no": "r1", **body}
    return client.post(REDEEM, json=full, headers=h)


def written(shop: Shop) -> tuple[int, int, int]:
    with shop.db.transaction() as s:
        grants = s.scalar(select(func.count()).select_from(StarPointGrant))
        entries = s.scalar(select(func.count()).select_from(StarPointEntry))
    return int(grants or 0), int(entries or 0), shop.balance()


def test_the_rule_table_is_published(client: TestClient, h: dict[str, str]) -> None:
    r = client.get("/api/v1/star-points/rules", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["pv_per_uv"] == 300
    assert body["repeat_window_days"] == 30
    assert body["own_channels"] == [
        "fan_group",
        "favorites",
        "live",
        "message",
        "offline_qr",
        "share",
    ]
    assert [
        (x["key"], x["points"], x["daily_cap"], x["daily_cap_points"]) for x in body["rules"]
    ] == [
        ("own_channel_visitor", 300, 3_000, 900_000),
        ("repeat_visit", 30, 5_000, 150_000),
        ("new_favorite", 100, 1_000, 100_000),
    ]


def test_earned_points_show_in_balance_and_ledger_and_redeem_as_a_grant(
    client: TestClient, shop: Shop, h: dict[str, str]
) -> None:
    for person in shop.people:
        shop.visit(person, "offline_qr", DAY1)
    assert client.get("/api/v1/star-points/balance", headers=h).json() == {
        "merchant_id": shop.merchant_id,
        "balance": 1_200,
        "earned_total": 1_200,
        "redeemed_total": 0,
    }

    first = redeem(client, h, shop)
    again = redeem(client, h, shop)
    conflict = redeem(client, h, shop, points=400)

    assert first.status_code == 201, first.text
    grant = first.json()
    assert {k: grant[k] for k in ("merchant_id", "group_id", "points", "status")} == {
        "merchant_id": shop.merchant_id,
        "group_id": shop.group_id,
        "points": 500,
        "status": "active",
    }
    assert (grant["impressions_total"], grant["impressions_used"], grant["impressions_left"]) == (
        500,
        0,
        500,
    )
    assert again.status_code == 200 and again.json()["id"] == grant["id"]
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "star_points.request_conflict"
    balance = client.get("/api/v1/star-points/balance", headers=h).json()
    assert (balance["balance"], balance["earned_total"], balance["redeemed_total"]) == (
        700,
        1_200,
        500,
    )
    entries = client.get("/api/v1/star-points/entries?limit=2", headers=h).json()
    assert [(e["rule"], e["points"], e["grant_id"], e["day"]) for e in entries] == [
        ("redeem", -500, grant["id"], entries[0]["day"]),
        ("own_channel_visitor", 300, None, "2026-11-20"),
    ]
    page2 = client.get("/api/v1/star-points/entries?limit=2&offset=4", headers=h).json()
    assert [(e["rule"], e["consumer_id"]) for e in page2] == [
        ("own_channel_visitor", shop.people[0])
    ]
    listed = client.get("/api/v1/star-points/grants", headers=h).json()
    assert [g["id"] for g in listed] == [grant["id"]]
    assert client.get(f"/api/v1/star-point-grants/{grant['id']}", headers=h).json() == grant


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"points": 0}, 422, "star_points.invalid_points"),
        ({"points": -5}, 422, "star_points.invalid_points"),
        ({"points": 1_000_001}, 422, "star_points.invalid_points"),
        ({"points": 1_001}, 409, "star_points.insufficient"),
        ({"ad_group_id": "other"}, 404, "promotion.group_not_found"),
        ({"ad_group_id": 999_999}, 404, "promotion.group_not_found"),
        ({"ad_group_id": "ended"}, 409, "star_points.group_ended"),
        ({"ad_group_id": "plan_ended"}, 409, "star_points.group_ended"),
        ({"out_request_no": "no spaces"}, 422, "invalid_request"),
        ({"merchant_id": "other"}, 404, "merchant.not_found"),
    ],
)
def test_refused_redemptions_write_nothing(
    client: TestClient,
    shop: Shop,
    h: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    shop.credit(1_000)
    if body.get("ad_group_id") == "other":
        body["ad_group_id"] = shop.other_group_id
    if body.get("merchant_id") == "other":
        body["merchant_id"] = shop.other.merchant_id
    if body.get("ad_group_id") in ("ended", "plan_ended"):
        group = client.get(f"/api/v1/ad-groups/{shop.group_id}", headers=h).json()
        path = (
            f"/api/v1/ad-groups/{shop.group_id}"
            if body["ad_group_id"] == "ended"
            else f"/api/v1/ad-plans/{group['plan_id']}"
        )
        assert client.patch(path, json={"status": "ended"}, headers=h).status_code == 200
        body["ad_group_id"] = shop.group_id
    before = written(shop)

    r = redeem(client, h, shop, **body)

    assert (r.status_code, r.json()["code"]) == (status, code)
    assert written(shop) == before == (0, 0, 1_000)


def test_a_clerk_cannot_redeem_but_can_read(client: TestClient, shop: Shop) -> None:
    clerk = f.make_staff(shop.db, shop.merchant_id, role="clerk")
    ch = f.login(client, clerk.email, clerk.password)
    shop.credit(1_000)
    r = redeem(client, ch, shop)
    assert (r.status_code, r.json()["code"]) == (403, "staff.role_forbidden")
    assert client.get("/api/v1/star-points/balance", headers=ch).json()["balance"] == 1_000


def test_an_operator_says_which_merchant(client: TestClient, shop: Shop) -> None:
    op = f.make_operator(shop.db)
    oh = f.login(client, op.email, op.password)
    shop.credit(1_000)
    r = client.get("/api/v1/star-points/balance", headers=oh)
    assert (r.status_code, r.json()["code"]) == (422, "star_points.merchant_required")
    r = redeem(client, oh, shop, merchant_id=shop.merchant_id, points=100)
    assert r.status_code == 201, r.text
    assert shop.balance() == 900


def test_another_merchants_staff_finds_neither_the_grant_nor_the_balance(
    client: TestClient, shop: Shop, h: dict[str, str]
) -> None:
    shop.credit(1_000)
    grant_id = redeem(client, h, shop).json()["id"]
    theirs = f.login(client, shop.other.owner_email, shop.other.password)
    mid = shop.merchant_id

    r = client.get(f"/api/v1/star-point-grants/{grant_id}", headers=theirs)
    assert (r.status_code, r.json()["code"]) == (404, "star_points.grant_not_found")
    for path in (
        f"/api/v1/star-points/balance?merchant_id={mid}",
        f"/api/v1/star-points/entries?merchant_id={mid}",
        f"/api/v1/star-points/grants?merchant_id={mid}",
    ):
        r = client.get(path, headers=theirs)
        assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found"), path
    own = client.get("/api/v1/star-points/balance", headers=theirs).json()
    assert (own["merchant_id"], own["balance"]) == (shop.other.merchant_id, 0)
    assert client.get("/api/v1/star-points/grants", headers=theirs).json() == []


def test_the_ad_server_serves_a_grant_until_it_is_used_up(
    client: TestClient, shop: Shop, h: dict[str, str]
) -> None:
    shop.credit(1_000)
    small = redeem(client, h, shop, points=3, out_request_no="small").json()["id"]
    large = redeem(client, h, shop, points=200, out_request_no="large").json()["id"]

    with shop.db.transaction() as s:
        assert service.open_grants(s) == [
            service.GrantView(small, shop.merchant_id, shop.group_id, 3),
            service.GrantView(large, shop.merchant_id, shop.group_id, 200),
        ]
        served = [service.use_free_impression(s, small) for _ in range(4)]
        assert service.use_free_impression(s, large)
        assert not service.use_free_impression(s, 999_999)
    with shop.db.transaction() as s:
        assert service.open_grants(s) == [
            service.GrantView(large, shop.merchant_id, shop.group_id, 199)
        ]

    assert served == [True, True, True, False]
    got = client.get(f"/api/v1/star-point-grants/{small}", headers=h).json()
    assert (got["impressions_used"], got["impressions_left"], got["status"]) == (3, 0, "exhausted")
    assert got["exhausted_at"] is not None
    assert client.get(f"/api/v1/star-point-grants/{large}", headers=h).json()["status"] == "active"
