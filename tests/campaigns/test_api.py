"""The campaigns API: create (idempotent), the errors of bad campaigns with their codes,
start, cancel, members, rounds and results, and the clerk's refusal."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.campaigns import rounds
from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.runtime import Runtime
from tests import factories as f
from tests.segments.events import Event


@pytest.fixture
def owner(client: TestClient, db: Database, runtime: Runtime) -> dict[str, Any]:
    shop = f.make_merchant(db)
    other = f.make_merchant(db, name="Other")
    people = [f.make_consumer(db, name=f"P{i}") for i in range(6)]
    assert runtime.analytics is not None
    runtime.analytics.record(
        [  # type: ignore[list-item]
            Event("storefront.visited", shop.merchant_id, p, utcnow(), None, {"channel": "search"})
            for p in people
        ]
    )
    h = f.login(client, shop.owner_email, shop.password)
    other_h = f.login(client, other.owner_email, other.password)
    clerk = f.make_staff(db, shop.merchant_id, role="clerk")
    segment = client.post(
        "/api/v1/segments",
        json={"name": "Visitors", "rule": {"event": {"type": "storefront.visited"}}},
        headers=h,
    ).json()
    template = client.post(
        "/api/v1/message-templates",
        json={"name": "Back", "category": "marketing", "title": "Hi {name}", "body": "Come"},
        headers=other_h,
    ).json()
    return {
        "h": h,
        "clerk": f.login(client, clerk.email, clerk.password),
        "segment_id": segment["id"],
        "others_template": template["id"],
        "people": people,
        "activity_id": _activity(client, h, "fixture"),
    }


def post(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/campaigns", json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "campaign.nothing_to_give"),
        ({"template_id": "others"}, 404, "message.template_not_found"),
        ({"activity_id": 999_999}, 404, "coupon.activity_not_found"),
        ({"segment_id": 999_999, "template_id": "others"}, 404, "segment.not_found"),
        ({"segment_id": None, "activity_id": 1}, 422, "campaign.segment_required"),
        (
            {"trigger": {"kind": "favorited_no_order"}, "segment_id": None, "activity_id": 1},
            422,
            "campaign.days_required",
        ),
        (
            {"trigger": {"kind": "favorited_no_order", "days": 7}, "activity_id": 1},
            422,
            "campaign.segment_not_allowed",
        ),
        ({"trigger": {"kind": "sometimes"}}, 422, "invalid_request"),
        ({"holdout_percent": 60}, 422, "invalid_request"),
        ({"start_at": "2026-01-01T00:00:00"}, 422, "invalid_request"),
        (
            {"start_at": "2020-01-01T00:00:00+08:00", "activity_id": 1},
            422,
            "campaign.start_in_past",
        ),
        (
            {"end_at": "2099-01-01T00:00:00+08:00", "activity_id": 1},
            422,
            "campaign.end_not_allowed",
        ),
        (
            {
                "trigger": {"kind": "entered_segment"},
                "end_at": "2099-01-01T00:00:00+08:00",
                "activity_id": 1,
            },
            422,
            "campaign.bad_window",
        ),
        ({"extra": 1}, 422, "invalid_request"),
    ],
)
def test_bad_campaigns_are_refused_with_their_code(
    client: TestClient, owner: dict[str, Any], body: dict[str, Any], status: int, code: str
) -> None:
    if body.get("template_id") == "others":
        body["template_id"] = owner["others_template"]
    if body.get("activity_id") == 1:
        body["activity_id"] = owner["activity_id"]
    full = {"name": "X", "out_request_no": "bad", "segment_id": owner["segment_id"], **body}
    full = {k: v for k, v in full.items() if v is not None}
    r = post(client, owner["h"], **full)
    listed = client.get("/api/v1/campaigns", headers=owner["h"]).json()

    assert (r.status_code, r.json()["code"]) == (status, code)
    assert listed == []


def test_create_start_run_and_read_the_results(
    client: TestClient, db: Database, runtime: Runtime, owner: dict[str, Any]
) -> None:
    body = {
        "name": "Welcome back",
        "out_request_no": "wb-1",
        "segment_id": owner["segment_id"],
        "activity_id": owner["activity_id"],
        "holdout_percent": 50,
    }
    first = post(client, owner["h"], **body)
    again = post(client, owner["h"], **body)
    conflict = post(client, owner["h"], **{**body, "holdout_percent": 10})
    clerk = client.post(f"/api/v1/campaigns/{first.json()['id']}/start", headers=owner["clerk"])
    cid = first.json()["id"]
    started = client.post(f"/api/v1/campaigns/{cid}/start", headers=owner["h"])
    rounds.run_due(db, runtime.analytics)
    got = client.get(f"/api/v1/campaigns/{cid}", headers=owner["h"]).json()
    members = client.get(f"/api/v1/campaigns/{cid}/members?limit=100", headers=owner["h"]).json()
    treated = client.get(
        f"/api/v1/campaigns/{cid}/members?arm=treatment", headers=owner["h"]
    ).json()
    page = client.get(
        f"/api/v1/campaigns/{cid}/members?limit=2&after={members[1]['consumer_id']}",
        headers=owner["h"],
    ).json()
    the_rounds = client.get(f"/api/v1/campaigns/{cid}/rounds", headers=owner["h"]).json()
    results = client.get(f"/api/v1/campaigns/{cid}/results", headers=owner["h"]).json()
    cancel_done = client.post(f"/api/v1/campaigns/{cid}/cancel", headers=owner["h"])

    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, cid)
    assert conflict.json()["code"] == "campaign.request_conflict"
    assert clerk.json()["code"] == "staff.role_forbidden"
    assert (first.json()["status"], started.json()["status"], got["status"]) == (
        "draft",
        "scheduled",
        "done",
    )
    assert [m["consumer_id"] for m in members] == sorted(owner["people"])
    assert got["treated"] + got["held_out"] == 6
    assert got["coupons_sent"] == got["treated"] == len(treated)
    assert all(m["coupon_id"] is not None for m in treated)
    assert [m["consumer_id"] for m in page] == [m["consumer_id"] for m in members[2:4]]
    assert [(r["round"], r["treated"], r["held_out"]) for r in the_rounds] == [
        (0, got["treated"], got["held_out"])
    ]
    assert (results["treatment"]["members"], results["holdout"]["members"]) == (
        got["treated"],
        got["held_out"],
    )
    assert results["treatment"]["converters"] == 0
    assert cancel_done.json()["code"] == "campaign.finished"


def _activity(client: TestClient, h: dict[str, str], no: str) -> int:
    r = client.post(
        "/api/v1/coupon-activities",
        json={
            "out_biz_no": no,
            "name": "5 off",
            "kind": "fixed",
            "amount_fen": 500,
            "quantity": 100,
            "claim_begin": "2026-01-01T00:00:00+08:00",
            "claim_end": "2099-01-01T00:00:00+08:00",
            "validity": {"days_after_claim": 7},
            "activate": True,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])
