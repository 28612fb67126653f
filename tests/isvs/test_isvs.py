from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ccare.core.db import Database
from ccare.core.errors import Conflict, Forbidden, NotFound
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PrincipalKind, Tenant
from ccare.isvs import service
from ccare.isvs.models import GrantStatus
from ccare.isvs.schemas import IsvCreate
from ccare.merchants import service as merchants
from tests.factories import (
    FACTORY_OPERATOR,
    grant,
    login,
    make_isv,
    make_merchant,
    make_operator,
    make_staff,
)


def test_principal_tenant_follows_grants(db: Database) -> None:
    a, b = make_merchant(db, name="A"), make_merchant(db, name="B")
    isv = make_isv(db)
    with db.transaction() as s:
        p = service.staff_principal(s, isv.staff_id)
        assert p is not None
        assert (p.kind, p.isv_id, p.tenant) == (PrincipalKind.ISV_STAFF, isv.isv_id, Tenant())
    ga = grant(db, a.merchant_id, isv.isv_id)
    grant(db, b.merchant_id, isv.isv_id, scopes=("catalog",))
    with db.transaction() as s:
        p = service.staff_principal(s, isv.staff_id)
        assert p is not None and p.tenant.merchant_ids == {a.merchant_id, b.merchant_id}
        owner_a = merchants.staff_principal(s, a.owner_staff_id)
        assert owner_a is not None
        revoked = service.revoke_grant(s, owner_a, ga)
        assert revoked.status == GrantStatus.REVOKED and revoked.revoked_at is not None
    with db.transaction() as s:
        assert service.granted_merchant_ids(s, isv.isv_id) == {b.merchant_id}
        p = service.staff_principal(s, isv.staff_id)
        assert p is not None and p.tenant == Tenant(frozenset({b.merchant_id}))
        with pytest.raises(NotFound):
            merchants.get_merchant(s, p.tenant, a.merchant_id)
        types = list(s.scalars(select(OutboxEvent.type).where(OutboxEvent.type.like("isv.%"))))
        assert types == ["isv.created", "isv.granted", "isv.granted", "isv.revoked"]


def test_regrant_rescopes_the_single_active_grant(db: Database) -> None:
    m, isv = make_merchant(db), make_isv(db)
    first = grant(db, m.merchant_id, isv.isv_id, scopes=("orders",))
    again = grant(db, m.merchant_id, isv.isv_id, scopes=("catalog", "orders", "catalog"))
    assert again == first
    with db.transaction() as s:
        [g] = service.list_grants(s, FACTORY_OPERATOR)
        assert (g.id, g.scopes, g.granted_by_staff_id) == (
            first,
            ["catalog", "orders"],
            m.owner_staff_id,
        )


def test_who_may_grant_and_revoke(db: Database) -> None:
    m, other, isv = make_merchant(db, name="M"), make_merchant(db, name="O"), make_isv(db)
    clerk = make_staff(db, m.merchant_id, role="clerk")
    gid = grant(db, m.merchant_id, isv.isv_id)
    with db.transaction() as s:
        c = merchants.staff_principal(s, clerk.staff_id)
        o = merchants.staff_principal(s, other.owner_staff_id)
        i = service.staff_principal(s, isv.staff_id)
        assert c is not None and o is not None and i is not None
        with pytest.raises(Forbidden) as exc:
            service.grant_isv(s, c, isv.isv_id, ["orders"])
        assert exc.value.code == "staff.role_forbidden"
        with pytest.raises(Forbidden) as exc:
            service.grant_isv(s, FACTORY_OPERATOR, isv.isv_id, ["orders"])
        assert exc.value.code == "isv.grant_merchant_only"
        with pytest.raises(NotFound) as nf:
            service.grant_isv(s, o, 999_999, ["orders"])
        assert nf.value.code == "isv.not_found"
        with pytest.raises(NotFound) as nf:
            service.revoke_grant(s, o, gid)
        assert nf.value.code == "isv_grant.not_found"
        with pytest.raises(Forbidden):
            service.revoke_grant(s, c, gid)
        assert [g.id for g in service.list_grants(s, c)] == [gid]
        assert service.list_grants(s, o) == []
        assert [g.id for g in service.list_grants(s, i)] == [gid]
        # The ISV itself may give a grant back.
        assert service.revoke_grant(s, i, gid).status == GrantStatus.REVOKED


def test_other_isv_does_not_see_shared_merchant_grants(db: Database) -> None:
    m, isv1, isv2 = make_merchant(db), make_isv(db, name="One"), make_isv(db, name="Two")
    g1 = grant(db, m.merchant_id, isv1.isv_id)
    g2 = grant(db, m.merchant_id, isv2.isv_id)
    with db.transaction() as s:
        p2 = service.staff_principal(s, isv2.staff_id)
        assert p2 is not None
        assert [g.id for g in service.list_grants(s, p2)] == [g2]
        with pytest.raises(NotFound):
            service.revoke_grant(s, p2, g1)
        assert [i.id for i in service.list_isvs(s, p2)] == [isv2.isv_id]
        with pytest.raises(NotFound):
            service.get_isv(s, p2, isv1.isv_id)


def test_create_isv_rules(db: Database) -> None:
    m = make_merchant(db, owner_email="taken@x.test")
    data = IsvCreate(
        name="Printers Inc",
        contact_email="hi@printers.test",
        staff_name="Zhang",
        staff_email="TAKEN@x.test",
        staff_password="password1",
    )
    with db.transaction() as s:
        with pytest.raises(Conflict) as exc:
            service.create_isv(s, FACTORY_OPERATOR, data)
        assert exc.value.code == "staff.email_taken"
        owner = merchants.staff_principal(s, m.owner_staff_id)
        assert owner is not None
        with pytest.raises(Forbidden) as forbidden:
            service.create_isv(s, owner, data)
        assert forbidden.value.code == "auth.operator_only"


def test_api_grant_flow_and_logins(client: TestClient, db: Database) -> None:
    m = make_merchant(db, name="Breakfast")
    op_creds = make_operator(db)
    op = login(client, op_creds.email, op_creds.password)
    r = client.post(
        "/api/v1/isvs",
        json={
            "name": "Kitchen Print",
            "contact_email": "hi@kp.test",
            "staff_name": "Zhang",
            "staff_email": "Zhang@KP.test",
            "staff_password": "isv-pass-99",
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    isv_id = r.json()["id"]
    isv_h = login(client, "zhang@kp.test", "isv-pass-99")
    me = client.get("/api/v1/auth/me", headers=isv_h).json()
    assert (me["kind"], me["isv_id"], me["merchant_ids"]) == ("isv_staff", isv_id, [])
    hidden = client.get(f"/api/v1/merchants/{m.merchant_id}", headers=isv_h)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "merchant.not_found")

    owner = login(client, m.owner_email, m.password)
    assert [i["id"] for i in client.get("/api/v1/isvs", headers=owner).json()] == [isv_id]
    g = client.post(
        "/api/v1/isv-grants",
        json={"isv_id": isv_id, "scopes": ["orders", "catalog"]},
        headers=owner,
    )
    assert g.status_code == 201, g.text
    assert (g.json()["merchant_id"], g.json()["scopes"]) == (m.merchant_id, ["catalog", "orders"])
    bad = client.post(
        "/api/v1/isv-grants", json={"isv_id": isv_id, "scopes": ["Not A Scope"]}, headers=owner
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_request")

    assert client.get("/api/v1/auth/me", headers=isv_h).json()["merchant_ids"] == [m.merchant_id]
    store = client.post(
        f"/api/v1/merchants/{m.merchant_id}/stores",
        json={"name": "Lane 3", "city": "Hangzhou", "address": "3 Old Lane"},
        headers=isv_h,
    )
    assert store.status_code == 201, store.text
    assert [x["id"] for x in client.get("/api/v1/isv-grants", headers=isv_h).json()] == [
        g.json()["id"]
    ]

    rv = client.post(f"/api/v1/isv-grants/{g.json()['id']}/revoke", headers=owner)
    assert (rv.status_code, rv.json()["status"]) == (200, "revoked")
    gone = client.get(f"/api/v1/stores/{store.json()['id']}", headers=isv_h)
    assert (gone.status_code, gone.json()["code"]) == (404, "store.not_found")
    assert client.get("/api/v1/merchants", headers=isv_h).json() == []
    assert len(client.get("/api/v1/isv-grants", headers=op).json()) == 1
    assert client.get(f"/api/v1/isvs/{isv_id}", headers=op).json()["name"] == "Kitchen Print"
    wrong = client.post("/api/v1/auth/login", json={"email": "zhang@kp.test", "password": "nope"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "auth.invalid_credentials")
