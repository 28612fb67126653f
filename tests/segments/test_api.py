"""The segments API: estimate, save (idempotent), read, change, refresh, export, errors,
and tenancy. Events are put straight into the runtime's analytics store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.runtime import Runtime
from tests import factories as f
from tests.segments.events import record, world

PAID_TWICE = {"event": {"type": "order.paid", "count": {"gte": 2}, "within_days": 30}}
NEVER_PAID = {"event": {"type": "order.paid", "count": {"eq": 0}}}


@dataclass(frozen=True)
class Shops:
    a: dict[str, str]
    b: dict[str, str]
    a_id: int
    b_id: int
    clerk: dict[str, str]


@pytest.fixture
def shops(client: TestClient, db: Database, runtime: Runtime) -> Shops:
    a = f.make_merchant(db, name="Shop A")
    b = f.make_merchant(db, name="Shop B")
    clerk = f.make_staff(db, a.merchant_id, role="clerk")
    assert runtime.analytics is not None
    record(runtime.analytics, world(a.merchant_id, b.merchant_id, now=utcnow()))
    return Shops(
        f.login(client, a.owner_email, a.password),
        f.login(client, b.owner_email, b.password),
        a.merchant_id,
        b.merchant_id,
        f.login(client, clerk.email, clerk.password),
    )


def save(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    r = client.post("/api/v1/segments", json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_estimate_then_save_computes_the_members(client: TestClient, shops: Shops) -> None:
    r = client.post("/api/v1/segments/estimate", json={"rule": NEVER_PAID}, headers=shops.a)
    assert r.status_code == 200, r.text
    assert (r.json()["merchant_id"], r.json()["size"]) == (shops.a_id, 3)

    seg = save(client, shops.a, name="Never paid", rule=NEVER_PAID)
    assert (seg["size"], seg["status"], seg["last_error"]) == (3, "ready", None)
    assert seg["last_computed_at"] is not None
    assert seg["refresh_every_minutes"] == 1440 and seg["next_refresh_at"] is not None
    members = client.get(f"/api/v1/segments/{seg['id']}/members", headers=shops.a)
    assert members.json() == [12, 13, 14]
    page = client.get(f"/api/v1/segments/{seg['id']}/members?after=12&limit=1", headers=shops.a)
    assert page.json() == [13]
    csv = client.get(f"/api/v1/segments/{seg['id']}/members.csv", headers=shops.a)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == "consumer_id\n12\n13\n14\n"
    listed = client.get("/api/v1/segments", headers=shops.a).json()
    assert [(s["id"], s["name"], s["size"]) for s in listed] == [(seg["id"], "Never paid", 3)]


def test_saving_is_idempotent_by_request_number_and_by_name(
    client: TestClient, shops: Shops
) -> None:
    first = client.post(
        "/api/v1/segments",
        json={"name": "Loyal", "rule": PAID_TWICE, "out_request_no": "seg-1"},
        headers=shops.a,
    )
    assert first.status_code == 201
    again = client.post(
        "/api/v1/segments",
        json={"name": "Loyal", "rule": PAID_TWICE, "out_request_no": "seg-1"},
        headers=shops.a,
    )
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    other = client.post(
        "/api/v1/segments",
        json={"name": "Loyal", "rule": NEVER_PAID, "out_request_no": "seg-1"},
        headers=shops.a,
    )
    assert (other.status_code, other.json()["code"]) == (409, "segment.out_request_no_reused")
    by_name = client.post(
        "/api/v1/segments", json={"name": "Loyal", "rule": PAID_TWICE}, headers=shops.a
    )
    assert (by_name.status_code, by_name.json()["id"]) == (200, first.json()["id"])
    taken = client.post(
        "/api/v1/segments", json={"name": "Loyal", "rule": NEVER_PAID}, headers=shops.a
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "segment.name_taken")
    # Another merchant may use the same name and request number.
    theirs = client.post(
        "/api/v1/segments",
        json={"name": "Loyal", "rule": PAID_TWICE, "out_request_no": "seg-1"},
        headers=shops.b,
    )
    assert theirs.status_code == 201 and theirs.json()["size"] == 1
    assert len(client.get("/api/v1/segments", headers=shops.a).json()) == 1


def test_changing_the_rule_recomputes_and_records_the_history(
    client: TestClient, shops: Shops
) -> None:
    seg = save(client, shops.a, name="Target", rule=PAID_TWICE)
    assert seg["size"] == 1
    r = client.patch(
        f"/api/v1/segments/{seg['id']}",
        json={"rule": NEVER_PAID, "name": "Target 2", "refresh_every_minutes": None},
        headers=shops.a,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["size"]) == ("Target 2", 3)
    assert (r.json()["refresh_every_minutes"], r.json()["next_refresh_at"]) == (None, None)
    refreshed = client.post(f"/api/v1/segments/{seg['id']}/refresh", headers=shops.a)
    assert refreshed.status_code == 200 and refreshed.json()["size"] == 3
    sizes = client.get(f"/api/v1/segments/{seg['id']}/sizes", headers=shops.a).json()
    assert [(s["size"], s["added"], s["removed"]) for s in sizes] == [
        (1, 1, 0),
        (3, 3, 1),
        (3, 0, 0),
    ]
    members = client.get(f"/api/v1/segments/{seg['id']}/members", headers=shops.a).json()
    assert members == [12, 13, 14]


def test_a_failed_refresh_keeps_the_members_and_shows_the_error(
    client: TestClient, shops: Shops, runtime: Runtime
) -> None:
    seg = save(client, shops.a, name="Paid twice", rule=PAID_TWICE)
    store = runtime.analytics
    runtime.analytics = None  # the store is gone
    try:
        r = client.post(f"/api/v1/segments/{seg['id']}/refresh", headers=shops.a)
    finally:
        runtime.analytics = store
    assert (r.status_code, r.json()["code"]) == (503, "segment.refresh_failed")
    assert r.json()["details"]["error"] == (
        "AnalyticsUnavailable: this process has no analytics store"
    )
    after = client.get(f"/api/v1/segments/{seg['id']}", headers=shops.a).json()
    assert (after["status"], after["size"]) == ("failed", 1)
    assert after["last_error"] == "AnalyticsUnavailable: this process has no analytics store"
    assert after["last_error_at"] is not None
    assert client.get(f"/api/v1/segments/{seg['id']}/members", headers=shops.a).json() == [10]
    ok = client.post(f"/api/v1/segments/{seg['id']}/refresh", headers=shops.a).json()
    assert (ok["status"], ok["last_error"], ok["size"]) == ("ready", None, 1)


def test_another_merchant_cannot_see_or_touch_a_segment(client: TestClient, shops: Shops) -> None:
    seg = save(client, shops.a, name="Mine", rule=NEVER_PAID)
    base = f"/api/v1/segments/{seg['id']}"
    for method, path in [
        ("GET", base),
        ("GET", base + "/members"),
        ("GET", base + "/members.csv"),
        ("GET", base + "/sizes"),
        ("POST", base + "/refresh"),
        ("PATCH", base),
        ("DELETE", base),
    ]:
        body = {"name": "Stolen"} if method == "PATCH" else None
        r = client.request(method, path, json=body, headers=shops.b)
        assert (r.status_code, r.json()["code"]) == (404, "segment.not_found"), (method, path)
    assert client.get("/api/v1/segments", headers=shops.b).json() == []
    estimate = client.post(
        "/api/v1/segments/estimate",
        json={"rule": NEVER_PAID, "merchant_id": shops.a_id},
        headers=shops.b,
    )
    assert (estimate.status_code, estimate.json()["code"]) == (404, "merchant.not_found")
    mine = client.get(base, headers=shops.a).json()
    assert (mine["name"], mine["size"]) == ("Mine", 3)


def test_clerks_read_but_do_not_change(client: TestClient, shops: Shops) -> None:
    seg = save(client, shops.a, name="Mine", rule=NEVER_PAID)
    assert client.get(f"/api/v1/segments/{seg['id']}", headers=shops.clerk).status_code == 200
    for method, path in [
        ("POST", "/api/v1/segments"),
        ("POST", f"/api/v1/segments/{seg['id']}/refresh"),
        ("DELETE", f"/api/v1/segments/{seg['id']}"),
    ]:
        body = {"name": "x", "rule": NEVER_PAID} if path.endswith("segments") else None
        r = client.request(method, path, json=body, headers=shops.clerk)
        assert (r.status_code, r.json()["code"]) == (403, "staff.role_forbidden")


def test_delete_removes_the_segment(client: TestClient, shops: Shops) -> None:
    seg = save(client, shops.a, name="Gone", rule=NEVER_PAID)
    assert client.delete(f"/api/v1/segments/{seg['id']}", headers=shops.a).status_code == 204
    assert client.get(f"/api/v1/segments/{seg['id']}", headers=shops.a).status_code == 404
    # The name is free again.
    assert save(client, shops.a, name="Gone", rule=PAID_TWICE)["size"] == 1


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        (
            {
                "all": [
                    PAID_TWICE,
                    PAID_TWICE,
                    {"event": {"type": "order.paid", "count": {"gte": -1}}},
                ]
            },
            "rule.all[2].event.count.gte",
            "Input should be greater than or equal to 0",
        ),
        (
            {"event": {"type": "order.paid", "within_days": -3}},
            "rule.event.within_days",
            "Input should be greater than or equal to 1",
        ),
        (
            {"event": {"type": "order.paid", "between": ["2026-11-10", "2026-11-01"]}},
            "rule.event.between",
            "the window ends before it starts",
        ),
        (
            {"event": {"type": "order.paid", "color": "red"}},
            "rule.event.color",
            "Extra inputs are not permitted",
        ),
        (
            {"event": {"type": "order.paid", "where": {"channel": "x"}}},
            "rule.event.where.channel",
            "order.paid cannot be filtered on 'channel'; known: mini_program_id, store_id",
        ),
        (
            {"event": {"type": "coupon.claimed", "where": {"channel": "x'; DROP TABLE events;--"}}},
            "rule.event.where.channel",
            "expected 1-64 letters, digits, '_', '.', ':' or '-'",
        ),
        (
            {"any": [{"profile": {"field": "rfm_segment", "op": "gte", "value": "x"}}]},
            "rule.any[0].profile.op",
            "rfm_segment takes eq, ne, in",
        ),
        (
            {"not": {"profile": {"field": "gmv_fen", "op": "gte", "value": "1 OR 1=1"}}},
            "rule.not.profile.value",
            "expected an integer",
        ),
        (
            {"event": {"type": "order.paid"}, "coupon": {"state": "used"}},
            "rule",
            "a rule node has exactly one key: all, any, not, event, profile, favorited or coupon",
        ),
        ({"event": {"type": "order.shipped"}}, "rule.event.type", None),
        (
            {"coupon": {"state": "claimed_unused", "within_days": 3}},
            "rule.coupon.within_days",
            "claimed_unused describes now: no window",
        ),
        (
            {"event": {"type": "order.paid", "name": "visit"}},
            "rule.event.name",
            "only customer.event has a name",
        ),
        ({"all": []}, "rule.all", "List should have at least 1 item after validation, not 0"),
    ],
)
def test_bad_rules_name_the_failing_path(
    client: TestClient, shops: Shops, rule: dict[str, Any], path: str, message: str | None
) -> None:
    for url, body in [
        ("/api/v1/segments/estimate", {"rule": rule}),
        ("/api/v1/segments", {"name": "Bad", "rule": rule}),
    ]:
        r = client.post(url, json=body, headers=shops.a)
        assert r.status_code == 422, r.text
        error = r.json()
        assert error["code"] == "segment.invalid_rule"
        assert error["details"]["path"] == path
        if message is not None:
            assert error["message"] == f"{path}: {message}"
    assert client.get("/api/v1/segments", headers=shops.a).json() == []


def test_limits_on_depth_and_size(client: TestClient, shops: Shops) -> None:
    deep: dict[str, Any] = PAID_TWICE
    for _ in range(9):
        deep = {"not": deep}
    r = client.post("/api/v1/segments/estimate", json={"rule": deep}, headers=shops.a)
    assert r.status_code == 422
    assert (
        r.json()["message"]
        == "rule.not.not.not.not.not.not.not.not: rules nest at most 8 levels deep"
    )
    wide = {"any": [{"all": [PAID_TWICE] * 20} for _ in range(3)]}
    r = client.post("/api/v1/segments/estimate", json={"rule": wide}, headers=shops.a)
    assert r.status_code == 422
    assert r.json()["message"] == "rule.any[2].all[0]: a rule has at most 40 conditions"


def test_the_schema_is_published(client: TestClient, shops: Shops) -> None:
    r = client.get("/api/v1/segments/schema", headers=shops.a)
    assert r.status_code == 200
    schema = r.json()
    assert schema["title"] == "Segment rule"
    assert (schema["minProperties"], schema["maxProperties"]) == (1, 1)
    assert set(schema["properties"]) == {
        "all",
        "any",
        "not",
        "event",
        "profile",
        "favorited",
        "coupon",
    }
    event = schema["$defs"]["EventLeaf"]["properties"]
    assert "order.paid" in event["type"]["enum"]
    assert client.get("/api/v1/segments/schema").status_code == 401
