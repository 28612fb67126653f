"""Plans, ad groups and creatives through the API: idempotent plans, each bad input refused
with its code and nothing written, reserves per charge type, review by the operator only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests import factories as f


@pytest.fixture
def shop(client: TestClient, db: Database) -> dict[str, Any]:
    m = f.make_merchant(db)
    other = f.make_merchant(db, name="Other")
    h = f.login(client, m.owner_email, m.password)
    op = f.make_operator(db)
    segment = client.post(
        "/api/v1/segments",
        json={"name": "All", "rule": {"event": {"type": "order.paid"}}},
        headers=h,
    ).json()
    return {
        "h": h,
        "operator": f.login(client, op.email, op.password),
        "clerk": f.login(client, *_clerk(db, m.merchant_id)),
        "mp": f.make_mini_program(db, m.merchant_id),
        "other_mp": f.make_mini_program(db, other.merchant_id),
        "segment_id": segment["id"],
    }


def _clerk(db: Database, merchant_id: int) -> tuple[str, str]:
    clerk = f.make_staff(db, merchant_id, role="clerk")
    return clerk.email, clerk.password


def plan(client: TestClient, h: dict[str, str], **body: Any) -> Any:
    full = {
        "out_request_no": "p1",
        "name": "Breakfast",
        "objective": "transactions",
        "daily_budget_fen": 20_000,
        **body,
    }
    return client.post("/api/v1/ad-plans", json=full, headers=h)


def group(client: TestClient, h: dict[str, str], plan_id: int, **body: Any) -> Any:
    full = {
        "plan_id": plan_id,
        "name": "Nearby",
        "bid_fen": 60,
        "targeting": {"placements": ["home_feed"]},
        **body,
    }
    return client.post("/api/v1/ad-groups", json=full, headers=h)


def test_a_plan_its_group_and_a_reviewed_creative(client: TestClient, shop: dict[str, Any]) -> None:
    h = shop["h"]
    first = plan(client, h)
    again = plan(client, h)
    conflict = plan(client, h, daily_budget_fen=30_000)
    pid = first.json()["id"]
    g = group(
        client,
        h,
        pid,
        bid_type="ocpc",
        target_cpa_fen=1_500,
        targeting={
            "placements": ["home_feed", "search_results"],
            "search_words": ["早餐", "豆浆油条"],
            "segments_include": [shop["segment_id"]],
            "cities": ["杭州"],
            "member_levels": ["gold"],
            "exclude_converted": True,
        },
        frequency_per_day=3,
    )
    creative = client.post(
        "/api/v1/ad-creatives",
        json={
            "group_id": g.json()["id"],
            "title": "早餐 8 折",
            "mini_program_id": shop["mp"],
            "page": "pages/menu/index",
        },
        headers=h,
    )
    cid = creative.json()["id"]
    by_merchant = client.post(
        f"/api/v1/ad-creatives/{cid}/review", json={"decision": "approved"}, headers=h
    )
    no_note = client.post(
        f"/api/v1/ad-creatives/{cid}/review",
        json={"decision": "rejected"},
        headers=shop["operator"],
    )
    queue = client.get(
        "/api/v1/ad-creatives?review_status=pending", headers=shop["operator"]
    ).json()
    approved = client.post(
        f"/api/v1/ad-creatives/{cid}/review",
        json={"decision": "approved"},
        headers=shop["operator"],
    )
    paused = client.patch(f"/api/v1/ad-plans/{pid}", json={"status": "paused"}, headers=h)
    clerk = client.patch(
        f"/api/v1/ad-plans/{pid}", json={"status": "active"}, headers=shop["clerk"]
    )

    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, pid)
    assert first.json()["hours"] == "1" * 168 and first.json()["charge_type"] == "cpc"
    assert conflict.json()["code"] == "promotion.request_conflict"
    assert g.status_code == 201, g.text
    assert g.json()["targeting"]["search_words"] == ["早餐", "豆浆油条"]
    assert creative.json()["review_status"] == "pending"
    assert by_merchant.json()["code"] == "auth.operator_only"
    assert no_note.json()["code"] == "promotion.review_note_required"
    assert [c["id"] for c in queue] == [cid]
    assert (approved.json()["review_status"], approved.json()["reviewed_at"] is not None) == (
        "approved",
        True,
    )
    assert paused.json()["status"] == "paused"
    assert clerk.json()["code"] == "staff.role_forbidden"


@pytest.mark.parametrize(
    ("plan_body", "group_body", "code"),
    [
        ({}, {"bid_fen": -5}, "invalid_request"),
        ({}, {"bid_fen": 1_000_000}, "invalid_request"),
        ({}, {"bid_fen": 10}, "promotion.bid_below_reserve"),
        ({"charge_type": "cpm"}, {"bid_fen": 700}, "promotion.bid_below_reserve"),
        (
            {"charge_type": "cpm"},
            {
                "bid_fen": 900,
                "targeting": {"placements": ["search_results"], "search_words": ["早餐"]},
            },
            "promotion.cpm_not_sold",
        ),
        ({}, {"targeting": {"placements": ["moon_base"]}}, "promotion.placement_unknown"),
        (
            {},
            {"targeting": {"placements": ["five_blessings"]}},
            "promotion.placement_not_auctioned",
        ),
        ({}, {"targeting": {"placements": []}}, "invalid_request"),
        ({}, {"targeting": {"placements": ["search_results"]}}, "promotion.search_words_required"),
        (
            {},
            {"targeting": {"placements": ["home_feed"], "search_words": ["早餐"]}},
            "promotion.search_words_need_search",
        ),
        (
            {},
            {"targeting": {"placements": ["search_results"], "search_words": ["！？"]}},
            "promotion.keyword_invalid",
        ),
        (
            {},
            {"targeting": {"placements": ["home_feed"], "segments_include": [999_999]}},
            "segment.not_found",
        ),
        ({}, {"bid_type": "ocpc"}, "promotion.target_cpa_required"),
        (
            {"objective": "brand"},
            {"bid_type": "ocpc", "target_cpa_fen": 100},
            "promotion.ocpc_needs_conversions",
        ),
        ({}, {"target_cpa_fen": 100}, "promotion.target_not_allowed"),
        (
            {"objective": "leads"},
            {"bid_type": "target_roi", "target_roi_bp": 20_000},
            "promotion.roi_needs_transactions",
        ),
    ],
)
def test_bad_groups_are_refused_with_their_code(
    client: TestClient,
    shop: dict[str, Any],
    plan_body: dict[str, Any],
    group_body: dict[str, Any],
    code: str,
) -> None:
    pid = plan(client, shop["h"], **plan_body).json()["id"]
    r = group(client, shop["h"], pid, **group_body)
    groups = client.get(f"/api/v1/ad-plans/{pid}/groups", headers=shop["h"]).json()

    assert r.status_code in (404, 422), r.text
    assert r.json()["code"] == code
    assert groups == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"daily_budget_fen": 500}, "invalid_request"),
        ({"daily_budget_fen": 20_000, "total_budget_fen": 10_000}, "promotion.total_below_daily"),
        ({"hours": "0" * 168}, "promotion.no_hours"),
        ({"hours": "1" * 24}, "invalid_request"),
        ({"objective": "fame"}, "invalid_request"),
    ],
)
def test_bad_plans_are_refused_with_their_code(
    client: TestClient, shop: dict[str, Any], body: dict[str, Any], code: str
) -> None:
    r = plan(client, shop["h"], **body)

    assert (r.status_code, r.json()["code"]) == (422, code)
    assert client.get("/api/v1/ad-plans", headers=shop["h"]).json() == []


def test_creatives_land_on_the_merchants_own_page(client: TestClient, shop: dict[str, Any]) -> None:
    h = shop["h"]
    gid = group(client, h, plan(client, h).json()["id"]).json()["id"]

    def creative(**body: Any) -> Any:
        full = {
            "group_id": gid,
            "title": "Hi",
            "mini_program_id": shop["mp"],
            "page": "pages/a",
            **body,
        }
        return client.post("/api/v1/ad-creatives", json=full, headers=h)

    foreign = creative(mini_program_id=shop["other_mp"])
    no_page = client.post(
        "/api/v1/ad-creatives",
        json={"group_id": gid, "title": "Hi", "mini_program_id": shop["mp"]},
        headers=h,
    )
    bad_page = creative(page="javascript:alert(1)")
    unknown_coupon = creative(coupon_activity_id=999_999)
    ended = client.patch(f"/api/v1/ad-groups/{gid}", json={"status": "ended"}, headers=h)
    after_end = creative()

    assert (foreign.status_code, foreign.json()["code"]) == (404, "promotion.landing_not_found")
    assert (no_page.status_code, no_page.json()["code"]) == (422, "invalid_request")
    assert bad_page.json()["code"] == "invalid_request"
    assert unknown_coupon.json()["code"] == "coupon.activity_not_found"
    assert ended.json()["status"] == "ended"
    assert (after_end.status_code, after_end.json()["code"]) == (409, "promotion.group_ended")
    assert client.get(f"/api/v1/ad-creatives?group_id={gid}", headers=h).json() == []


def test_a_patch_with_null_for_what_cannot_be_removed_is_refused(
    client: TestClient, shop: dict[str, Any]
) -> None:
    h = shop["h"]
    pid = plan(client, h, total_budget_fen=90_000).json()["id"]
    gid = group(client, h, pid, frequency_per_day=3).json()["id"]
    for path, body in [
        (f"/api/v1/ad-plans/{pid}", {"daily_budget_fen": None}),
        (f"/api/v1/ad-plans/{pid}", {"status": None}),
        (f"/api/v1/ad-groups/{gid}", {"bid_fen": None}),
        (f"/api/v1/ad-groups/{gid}", {"targeting": None, "name": "X"}),
    ]:
        r = client.patch(path, json=body, headers=h)
        assert (r.status_code, r.json()["code"]) == (422, "invalid_request"), (body, r.text)
    assert client.get(f"/api/v1/ad-groups/{gid}", headers=h).json()["name"] == "Nearby"
    removed = client.patch(f"/api/v1/ad-plans/{pid}", json={"total_budget_fen": None}, headers=h)
    uncapped = client.patch(f"/api/v1/ad-groups/{gid}", json={"frequency_per_day": None}, headers=h)
    assert (removed.status_code, removed.json()["total_budget_fen"]) == (200, None)
    assert (uncapped.status_code, uncapped.json()["frequency_per_day"]) == (200, None)
