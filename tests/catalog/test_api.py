from __future__ import annotations

from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests.factories import (
    consumer_login,
    grant,
    login,
    make_consumer,
    make_isv,
    make_item,
    make_merchant,
    make_mini_program,
    make_operator,
    make_staff,
)


def test_staff_build_a_catalog(client: TestClient, db: Database) -> None:
    m = make_merchant(db, name="Old Lane Breakfast")
    clerk = make_staff(db, m.merchant_id)
    owner = login(client, m.owner_email, m.password)
    clerk_h = login(client, clerk.email, clerk.password)

    r = client.post(
        "/api/v1/mini-programs", json={"name": "Breakfast", "category": "food"}, headers=owner
    )
    assert r.status_code == 201, r.text
    mp = r.json()
    assert (mp["merchant_id"], mp["status"], mp["city"]) == (m.merchant_id, "online", "Hangzhou")
    denied = client.post(
        "/api/v1/mini-programs", json={"name": "X", "category": "food"}, headers=clerk_h
    )
    assert (denied.status_code, denied.json()["code"]) == (403, "staff.role_forbidden")

    item = client.post(
        f"/api/v1/mini-programs/{mp['id']}/items",
        json={"name": "Soy milk", "price_fen": 350, "stock": 20},
        headers=owner,
    )
    assert item.status_code == 201, item.text
    assert {k: item.json()[k] for k in ("kind", "price_fen", "stock", "status", "sold_count")} == {
        "kind": "goods",
        "price_fen": 350,
        "stock": 20,
        "status": "on_sale",
        "sold_count": 0,
    }
    for bad in (
        {"name": "x", "price_fen": 0},
        {"name": "x", "price_fen": 100_000_001},
        {"name": "x", "price_fen": 1, "stock": -1},
        {"name": "", "price_fen": 1},
        {"name": "x", "price_fen": 1.5},
        {"name": "x", "price_fen": 1, "kind": "rental"},
    ):
        r = client.post(f"/api/v1/mini-programs/{mp['id']}/items", json=bad, headers=owner)
        assert (r.status_code, r.json()["code"]) == (422, "invalid_request"), bad

    patched = client.patch(
        f"/api/v1/items/{item.json()['id']}",
        json={"price_fen": 400, "status": "off_sale"},
        headers=owner,
    )
    assert (patched.json()["price_fen"], patched.json()["status"]) == (400, "off_sale")
    clerk_patch = client.patch(
        f"/api/v1/items/{item.json()['id']}", json={"price_fen": 1}, headers=clerk_h
    )
    assert (clerk_patch.status_code, clerk_patch.json()["code"]) == (403, "staff.role_forbidden")
    listed = client.get(f"/api/v1/mini-programs/{mp['id']}/items", headers=clerk_h).json()
    assert [(i["id"], i["status"]) for i in listed] == [(item.json()["id"], "off_sale")]
    assert client.get(f"/api/v1/items/{item.json()['id']}", headers=clerk_h).status_code == 200
    renamed = client.patch(f"/api/v1/mini-programs/{mp['id']}", json={"name": "Zao"}, headers=owner)
    assert renamed.json()["name"] == "Zao"
    assert [x["id"] for x in client.get("/api/v1/mini-programs", headers=clerk_h).json()] == [
        mp["id"]
    ]


def test_other_tenants_get_not_found(client: TestClient, db: Database) -> None:
    a, b = make_merchant(db, name="A"), make_merchant(db, name="B")
    mp = make_mini_program(db, b.merchant_id)
    item = make_item(db, b.merchant_id, mp)
    owner_a = login(client, a.owner_email, a.password)
    new_item = {"name": "x", "price_fen": 1}
    for method, path, body, code in (
        ("GET", f"/api/v1/mini-programs/{mp}", None, "mini_program.not_found"),
        ("PATCH", f"/api/v1/mini-programs/{mp}", {"name": "x"}, "mini_program.not_found"),
        ("GET", f"/api/v1/mini-programs/{mp}/items", None, "mini_program.not_found"),
        ("POST", f"/api/v1/mini-programs/{mp}/items", new_item, "mini_program.not_found"),
        ("GET", f"/api/v1/items/{item}", None, "catalog.item_not_found"),
        ("PATCH", f"/api/v1/items/{item}", {"price_fen": 1}, "catalog.item_not_found"),
    ):
        r = client.request(method, path, json=body, headers=owner_a)
        assert (r.status_code, r.json()["code"]) == (404, code), path
    r = client.post(
        "/api/v1/mini-programs",
        json={"merchant_id": b.merchant_id, "name": "X", "category": "y"},
        headers=owner_a,
    )
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")
    assert client.get("/api/v1/mini-programs", headers=owner_a).json() == []


def test_granted_isv_and_operator_manage_catalog(client: TestClient, db: Database) -> None:
    m = make_merchant(db)
    isv = make_isv(db)
    grant(db, m.merchant_id, isv.isv_id)
    op_creds = make_operator(db)
    isv_h = login(client, isv.email, isv.password)
    op = login(client, op_creds.email, op_creds.password)
    r = client.post("/api/v1/mini-programs", json={"name": "ISV", "category": "x"}, headers=isv_h)
    assert (r.status_code, r.json()["merchant_id"]) == (201, m.merchant_id)
    need = client.post("/api/v1/mini-programs", json={"name": "Op", "category": "x"}, headers=op)
    assert (need.status_code, need.json()["code"]) == (422, "mini_program.merchant_required")
    ok = client.post(
        "/api/v1/mini-programs",
        json={"merchant_id": m.merchant_id, "name": "Op", "category": "x"},
        headers=op,
    )
    assert ok.status_code == 201


def test_public_directory_and_storefront(client: TestClient, db: Database) -> None:
    m = make_merchant(db, city="Hangzhou")
    mp = make_mini_program(db, m.merchant_id, name="Breakfast")
    on = make_item(db, m.merchant_id, mp, name="Bun", price_fen=250)
    make_item(db, m.merchant_id, mp, name="Secret", price_fen=100)
    owner = login(client, m.owner_email, m.password)
    client.patch(
        f"/api/v1/items/{on + 1}", json={"status": "off_sale"}, headers=owner
    ).raise_for_status()

    listed = client.get("/api/v1/public/mini-programs", params={"city": "Hangzhou"})
    assert [x["id"] for x in listed.json()] == [mp]
    assert client.get("/api/v1/public/mini-programs", params={"city": "Beijing"}).json() == []
    front = client.get(f"/api/v1/public/mini-programs/{mp}")
    assert front.status_code == 200
    assert [(i["name"], i["price_fen"]) for i in front.json()["items"]] == [("Bun", 250)]
    consumer = consumer_login(client, make_consumer(db))
    assert client.get(f"/api/v1/public/mini-programs/{mp}", headers=consumer).status_code == 200
    denied = client.get(f"/api/v1/mini-programs/{mp}", headers=consumer)
    assert (denied.status_code, denied.json()["code"]) == (403, "auth.staff_only")

    client.patch(f"/api/v1/mini-programs/{mp}", json={"status": "offline"}, headers=owner)
    gone = client.get(f"/api/v1/public/mini-programs/{mp}")
    assert (gone.status_code, gone.json()["code"]) == (404, "mini_program.not_found")
    assert client.get("/api/v1/public/mini-programs?limit=0").status_code == 422
