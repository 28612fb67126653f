from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.consumers import service
from ccare.consumers.models import DevicePlatform, MemberLevel
from ccare.consumers.schemas import ConsumerCreate
from ccare.core.db import Database
from ccare.core.errors import Conflict, Forbidden, NotFound
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PrincipalKind, Tenant
from tests.factories import (
    FACTORY_OPERATOR,
    consumer_login,
    login,
    make_consumer,
    make_merchant,
    make_operator,
)


def test_create_and_principal(db: Database) -> None:
    cid = make_consumer(db, name="Li Lei", phone="13800000001", member_level="gold")
    with db.transaction() as s:
        c = service.get_consumer(s, cid)
        assert (c.name, c.phone, c.member_level, c.city, c.credit_score) == (
            "Li Lei",
            "13800000001",
            MemberLevel.GOLD,
            "Hangzhou",
            600,
        )
        p = service.consumer_principal(s, cid)
        assert p is not None
        assert (p.kind, p.id, p.name, p.tenant) == (PrincipalKind.CONSUMER, cid, "Li Lei", Tenant())
        assert service.consumer_principal(s, cid + 1) is None
        [event] = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "consumer.registered"))
        assert (event.consumer_id, event.payload["member_level"]) == (cid, "gold")


def test_duplicate_phone_and_permissions(db: Database) -> None:
    cid = make_consumer(db, phone="13800000002")
    data = ConsumerCreate(name="Dup", phone="13800000002", city="Hangzhou")
    with db.transaction() as s:
        with pytest.raises(Conflict) as exc:
            service.create_consumer(s, FACTORY_OPERATOR, data)
        assert exc.value.code == "consumer.phone_taken"
        me = service.consumer_principal(s, cid)
        assert me is not None
        with pytest.raises(Forbidden) as forbidden:
            service.create_consumer(s, me, data)
        assert forbidden.value.code == "auth.operator_only"
        with pytest.raises(NotFound) as nf:
            service.get_consumer(s, 999_999)
        assert nf.value.code == "consumer.not_found"


def test_register_device_is_idempotent(db: Database) -> None:
    cid = make_consumer(db)
    with db.transaction() as s:
        first = service.register_device(s, cid, "dev-1", DevicePlatform.IOS)
        again = service.register_device(s, cid, "dev-1", DevicePlatform.ANDROID)
        assert (again.id, again.platform) == (first.id, DevicePlatform.IOS)


def test_list_and_demo(db: Database) -> None:
    ids = [make_consumer(db, city=city) for city in ("Hangzhou", "Shanghai", "Hangzhou")]
    with db.transaction() as s:
        assert [c.id for c in service.list_consumers(s, city="Hangzhou")] == [ids[0], ids[2]]
        assert [c.id for c in service.list_consumers(s, limit=1, offset=1)] == [ids[1]]
        assert [c.id for c in service.demo_consumers(s, limit=2)] == ids[:2]


def test_api(client: TestClient, db: Database) -> None:
    op = login(client, *_op(db))
    r = client.post(
        "/api/v1/consumers",
        json={
            "name": "Han Meimei",
            "phone": "13900000001",
            "city": "Shanghai",
            "member_level": "diamond",
            "credit_score": 720,
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["member_level"] == "diamond"
    bad = client.post(
        "/api/v1/consumers",
        json={"name": "X", "phone": "13900000002", "city": "S", "credit_score": 951},
        headers=op,
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_request")
    assert [c["id"] for c in client.get("/api/v1/consumers", headers=op).json()] == [cid]
    assert client.get(f"/api/v1/consumers/{cid}", headers=op).json()["name"] == "Han Meimei"
    missing = client.get("/api/v1/consumers/424242", headers=op)
    assert (missing.status_code, missing.json()["code"]) == (404, "consumer.not_found")

    me = consumer_login(client, cid)
    assert client.get("/api/v1/consumer/profile", headers=me).json()["id"] == cid
    d1 = client.post(
        "/api/v1/consumer/devices", json={"device_id": "abc-1", "platform": "web"}, headers=me
    )
    d2 = client.post(
        "/api/v1/consumer/devices", json={"device_id": "abc-1", "platform": "ios"}, headers=me
    )
    assert d1.status_code == d2.status_code == 200
    assert d1.json()["id"] == d2.json()["id"] and d2.json()["platform"] == "web"

    denied = client.get("/api/v1/consumers", headers=me)
    assert (denied.status_code, denied.json()["code"]) == (403, "auth.operator_only")
    m = make_merchant(db)
    staff = login(client, m.owner_email, m.password)
    not_consumer = client.get("/api/v1/consumer/profile", headers=staff)
    assert (not_consumer.status_code, not_consumer.json()["code"]) == (403, "auth.consumer_only")
    assert client.get("/api/v1/consumer/profile").status_code == 401


def _op(db: Database) -> tuple[str, str]:
    creds = make_operator(db)
    return creds.email, creds.password


def test_nul_characters_are_422_not_500(client: TestClient, db: Database) -> None:
    op = login(client, *_op(db))
    r = client.post(
        "/api/v1/consumers",
        json={"name": "a\x00b", "phone": "13900000009", "city": "Hangzhou"},
        headers=op,
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    listed = client.get("/api/v1/consumers", params={"city": "a\x00"}, headers=op)
    assert listed.status_code == 422
    public = client.get("/api/v1/public/mini-programs", params={"q": "a\x00"})
    assert public.status_code == 422
    merchant = client.post(
        "/api/v1/merchants",
        json={
            "name": "M\x00",
            "industry": "retail",
            "city": "H",
            "owner_name": "o",
            "owner_email": "o@m.test",
            "owner_password": "password1",
        },
        headers=op,
    )
    assert merchant.status_code == 422
