from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests.factories import Creds, login, make_merchant, make_operator, make_staff, make_store


@pytest.fixture
def operator(db: Database) -> Creds:
    return make_operator(db)


def _merchant_body(**overrides: object) -> dict[str, object]:
    body = {
        "name": "Nine Stores Supermarket",
        "industry": "supermarket",
        "city": "Ningbo",
        "owner_name": "Chen",
        "owner_email": "chen@super.test",
        "owner_password": "long-enough",
    }
    return {**body, **overrides}


def test_operator_onboards_merchant_and_owner_signs_in(client: TestClient, operator: Creds) -> None:
    op = login(client, operator.email, operator.password)
    r = client.post("/api/v1/merchants", json=_merchant_body(), headers=op)
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: body[k] for k in ("name", "slug", "industry", "status", "city")} == {
        "name": "Nine Stores Supermarket",
        "slug": "nine-stores-supermarket",
        "industry": "supermarket",
        "status": "active",
        "city": "Ningbo",
    }
    dup = client.post(
        "/api/v1/merchants", json=_merchant_body(slug="nine-stores-supermarket"), headers=op
    )
    assert (dup.status_code, dup.json()["code"]) == (409, "merchant.slug_taken")
    dup_email = client.post("/api/v1/merchants", json=_merchant_body(), headers=op)
    assert (dup_email.status_code, dup_email.json()["code"]) == (409, "staff.email_taken")

    owner = login(client, "CHEN@super.test", "long-enough")
    me = client.get("/api/v1/auth/me", headers=owner).json()
    assert (me["kind"], me["role"], me["merchant_ids"]) == ("merchant_staff", "owner", [body["id"]])
    denied = client.post("/api/v1/merchants", json=_merchant_body(slug="x"), headers=owner)
    assert (denied.status_code, denied.json()["code"]) == (403, "auth.operator_only")

    suspended = client.patch(
        f"/api/v1/merchants/{body['id']}", json={"status": "suspended"}, headers=op
    )
    assert (suspended.status_code, suspended.json()["status"]) == (200, "suspended")
    listed = client.get("/api/v1/merchants?status=suspended", headers=op).json()
    assert [m["id"] for m in listed] == [body["id"]]


@pytest.mark.parametrize(
    "override",
    [
        {"industry": "spaceships"},
        {"owner_password": "short"},
        {"owner_email": "not-an-email"},
        {"slug": "Bad Slug"},
        {"name": ""},
        {"name": "x" * 101},
        {"unexpected": 1},
    ],
)
def test_bad_merchant_input_is_422(client: TestClient, operator: Creds, override: dict) -> None:
    op = login(client, operator.email, operator.password)
    r = client.post("/api/v1/merchants", json=_merchant_body(**override), headers=op)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")


def test_stores_staff_and_roles(client: TestClient, db: Database) -> None:
    a, b = make_merchant(db, name="A"), make_merchant(db, name="B")
    clerk = make_staff(db, a.merchant_id, role="clerk")
    b_store = make_store(db, b.merchant_id)
    owner = login(client, a.owner_email, a.password)
    clerk_h = login(client, clerk.email, clerk.password)

    r = client.post(
        f"/api/v1/merchants/{a.merchant_id}/stores",
        json={
            "name": "Lake",
            "city": "Hangzhou",
            "address": "1 Lake Rd",
            "latitude": 30.2,
            "longitude": 120.1,
        },
        headers=owner,
    )
    assert r.status_code == 201, r.text
    store_id = r.json()["id"]
    forbidden = client.post(
        f"/api/v1/merchants/{a.merchant_id}/stores",
        json={"name": "X", "city": "Hangzhou", "address": "x"},
        headers=clerk_h,
    )
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "staff.role_forbidden")
    assert [
        s["id"]
        for s in client.get(f"/api/v1/merchants/{a.merchant_id}/stores", headers=clerk_h).json()
    ] == [store_id]
    closed = client.patch(f"/api/v1/stores/{store_id}", json={"status": "closed"}, headers=owner)
    assert (closed.status_code, closed.json()["status"], closed.json()["name"]) == (
        200,
        "closed",
        "Lake",
    )
    bad_lat = client.patch(f"/api/v1/stores/{store_id}", json={"latitude": 91}, headers=owner)
    assert bad_lat.status_code == 422

    for path in (
        f"/api/v1/merchants/{b.merchant_id}",
        f"/api/v1/merchants/{b.merchant_id}/stores",
        f"/api/v1/merchants/{b.merchant_id}/staff",
        f"/api/v1/stores/{b_store}",
    ):
        r = client.get(path, headers=owner)
        assert r.status_code == 404, path
        assert r.json()["code"] in ("merchant.not_found", "store.not_found")
    patch_other = client.patch(f"/api/v1/stores/{b_store}", json={"name": "x"}, headers=owner)
    assert (patch_other.status_code, patch_other.json()["code"]) == (404, "store.not_found")

    new = client.post(
        f"/api/v1/merchants/{a.merchant_id}/staff",
        json={"name": "Mgr", "email": "mgr@a.test", "password": "password1", "role": "manager"},
        headers=owner,
    )
    assert new.status_code == 201, new.text
    assert "password_hash" not in new.json()
    staff_ids = [
        s["id"]
        for s in client.get(f"/api/v1/merchants/{a.merchant_id}/staff", headers=owner).json()
    ]
    assert staff_ids == [a.owner_staff_id, clerk.staff_id, new.json()["id"]]
    off = client.patch(f"/api/v1/staff/{clerk.staff_id}", json={"active": False}, headers=owner)
    assert (off.status_code, off.json()["active"]) == (200, False)
    # A deactivated clerk's session stops working at once.
    assert client.get("/api/v1/auth/me", headers=clerk_h).status_code == 401
    last = client.patch(f"/api/v1/staff/{a.owner_staff_id}", json={"role": "clerk"}, headers=owner)
    assert (last.status_code, last.json()["code"]) == (409, "staff.last_owner")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/merchants/0",
        "/api/v1/merchants/4611686018427387904",
        "/api/v1/stores/-1",
        "/api/v1/stores/abc",
    ],
)
def test_bad_path_ids_are_422(client: TestClient, operator: Creds, path: str) -> None:
    op = login(client, operator.email, operator.password)
    r = client.get(path, headers=op)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")


def test_requires_sign_in(client: TestClient) -> None:
    r = client.get("/api/v1/merchants")
    assert (r.status_code, r.json()["code"]) == (401, "auth.required")
