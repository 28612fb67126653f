from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from ccare.core.db import Database
from ccare.core.errors import Conflict, Forbidden, NotFound
from ccare.core.outbox import OutboxEvent
from ccare.core.security import verify_password
from ccare.core.tenancy import PLATFORM, SYSTEM, Principal, PrincipalKind, StaffRole, Tenant
from ccare.merchants import service
from ccare.merchants.models import Industry, MerchantStatus
from ccare.merchants.schemas import (
    SLUG_PATTERN,
    MerchantCreate,
    StaffCreate,
    StaffUpdate,
    StoreCreate,
)
from tests.factories import FACTORY_OPERATOR, make_merchant, make_staff


def _create(**overrides: object) -> MerchantCreate:
    data = {
        "name": "Old Lane Breakfast",
        "industry": "catering",
        "city": "Hangzhou",
        "owner_name": "Wang",
        "owner_email": "Wang@Breakfast.test",
        "owner_password": "long-enough",
    }
    return MerchantCreate.model_validate({**data, **overrides})


def test_create_merchant_creates_owner_and_events(db: Database) -> None:
    with db.transaction() as s:
        m = service.create_merchant(s, FACTORY_OPERATOR, _create())
        merchant_id = m.id
    with db.transaction() as s:
        m = service.get_merchant(s, PLATFORM, merchant_id)
        assert (m.name, m.slug, m.industry, m.status, m.city) == (
            "Old Lane Breakfast",
            "old-lane-breakfast",
            Industry.CATERING,
            MerchantStatus.ACTIVE,
            "Hangzhou",
        )
        [owner] = service.list_staff(s, PLATFORM, merchant_id)
        assert (owner.email, owner.role, owner.active) == (
            "wang@breakfast.test",
            StaffRole.OWNER,
            True,
        )
        assert verify_password("long-enough", owner.password_hash)
        types = list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))
        assert types == ["merchant.created", "staff.created"]


def test_slug_derivation_is_ascii_and_unique(db: Database) -> None:
    with db.transaction() as s:
        a = service.create_merchant(s, SYSTEM, _create(name="Café Zürich", owner_email="a@x.test"))
        b = service.create_merchant(s, SYSTEM, _create(name="Cafe Zurich", owner_email="b@x.test"))
        c = service.create_merchant(s, SYSTEM, _create(name="老街早餐", owner_email="c@x.test"))
        d = service.create_merchant(s, SYSTEM, _create(name="鲜花", owner_email="d@x.test"))
        assert [a.slug, b.slug, c.slug, d.slug] == [
            "cafe-zurich",
            "cafe-zurich-2",
            "merchant",
            "merchant-2",
        ]


def test_duplicate_slug_and_email(db: Database) -> None:
    with db.transaction() as s:
        service.create_merchant(s, SYSTEM, _create(slug="breakfast"))
    with db.transaction() as s, pytest.raises(Conflict) as exc:
        service.create_merchant(s, SYSTEM, _create(slug="breakfast", owner_email="x@y.test"))
    assert exc.value.code == "merchant.slug_taken"
    with db.transaction() as s, pytest.raises(Conflict) as exc:
        service.create_merchant(s, SYSTEM, _create(owner_email="WANG@breakfast.test"))
    assert exc.value.code == "staff.email_taken"


def test_only_operators_create_merchants(db: Database) -> None:
    m = make_merchant(db)
    with db.transaction() as s:
        owner = service.staff_principal(s, m.owner_staff_id)
        assert owner is not None
        with pytest.raises(Forbidden) as exc:
            service.create_merchant(s, owner, _create())
    assert exc.value.code == "auth.operator_only"


def test_tenant_sees_only_its_merchant(db: Database) -> None:
    a, b = make_merchant(db, name="A"), make_merchant(db, name="B", industry="retail")
    tenant = Tenant(frozenset({a.merchant_id}))
    with db.transaction() as s:
        assert [m.id for m in service.list_merchants(s, tenant)] == [a.merchant_id]
        assert [m.id for m in service.list_merchants(s, PLATFORM, industry=Industry.RETAIL)] == [
            b.merchant_id
        ]
        assert service.list_merchants(s, Tenant()) == []
        with pytest.raises(NotFound) as exc:
            service.get_merchant(s, tenant, b.merchant_id)
        assert exc.value.code == "merchant.not_found"


def test_set_status_emits_once(db: Database) -> None:
    m = make_merchant(db)
    with db.transaction() as s:
        service.set_merchant_status(s, FACTORY_OPERATOR, m.merchant_id, MerchantStatus.SUSPENDED)
        service.set_merchant_status(s, FACTORY_OPERATOR, m.merchant_id, MerchantStatus.SUSPENDED)
    with db.transaction() as s:
        rows = list(
            s.scalars(select(OutboxEvent).where(OutboxEvent.type == "merchant.status_changed"))
        )
        assert [(r.payload["old_status"], r.payload["new_status"]) for r in rows] == [
            ("active", "suspended")
        ]
        public = service.public_merchant(s, m.merchant_id)
        assert public is not None and public.status == MerchantStatus.SUSPENDED
        assert service.public_merchant(s, 999_999) is None


def test_clerk_is_read_only_and_other_tenant_is_not_found(db: Database) -> None:
    a, b = make_merchant(db, name="A"), make_merchant(db, name="B")
    clerk = make_staff(db, a.merchant_id, role="clerk")
    with db.transaction() as s:
        p = service.staff_principal(s, clerk.staff_id)
        assert p is not None and p.role == StaffRole.CLERK
        assert p.tenant == Tenant(frozenset({a.merchant_id}))
        with pytest.raises(Forbidden) as exc:
            service.create_store(s, p, a.merchant_id, StoreCreate(name="S", city="H", address="x"))
        assert exc.value.code == "staff.role_forbidden"
        with pytest.raises(NotFound) as nf:
            service.create_store(s, p, b.merchant_id, StoreCreate(name="S", city="H", address="x"))
        assert nf.value.code == "merchant.not_found"


def test_staff_roles_and_last_owner(db: Database) -> None:
    m = make_merchant(db)
    manager = make_staff(db, m.merchant_id, role="manager")
    with db.transaction() as s:
        mp = service.staff_principal(s, manager.staff_id)
        owner = service.staff_principal(s, m.owner_staff_id)
        assert mp is not None and owner is not None
        with pytest.raises(Forbidden):
            service.create_staff(
                s,
                mp,
                m.merchant_id,
                StaffCreate(
                    name="O2", email="o2@x.test", password="password1", role=StaffRole.OWNER
                ),
            )
        with pytest.raises(Forbidden):
            service.update_staff(s, mp, m.owner_staff_id, StaffUpdate(active=False))
        with pytest.raises(Conflict) as exc:
            service.update_staff(s, owner, m.owner_staff_id, StaffUpdate(role=StaffRole.MANAGER))
        assert exc.value.code == "staff.last_owner"
        clerk = service.create_staff(
            s, mp, m.merchant_id, StaffCreate(name="C", email="C@X.test", password="password1")
        )
        assert (clerk.email, clerk.role) == ("c@x.test", StaffRole.CLERK)
        service.update_staff(s, mp, clerk.id, StaffUpdate(active=False))
        assert service.staff_principal(s, clerk.id) is None
        creds = service.find_staff_credentials(s, " C@x.TEST ".strip())
        assert creds is not None and (creds.staff_id, creds.active) == (clerk.id, False)


def test_isv_principal_with_grant_may_write(db: Database) -> None:
    m = make_merchant(db)
    isv = Principal(
        kind=PrincipalKind.ISV_STAFF, id=1, isv_id=1, tenant=Tenant(frozenset({m.merchant_id}))
    )
    with db.transaction() as s:
        store = service.create_store(
            s,
            isv,
            m.merchant_id,
            StoreCreate(
                name="Kiosk", city="Hangzhou", address="1 Road", latitude=30.25, longitude=120.16
            ),
        )
        assert [x.id for x in service.list_stores(s, isv.tenant, m.merchant_id)] == [store.id]


@given(st.text(max_size=120))
def test_derived_slug_always_fits_the_slug_rules(name: str) -> None:
    base = service._slug_base(name)
    assert re.fullmatch(SLUG_PATTERN, base) and len(base) <= 40
    assert re.fullmatch(SLUG_PATTERN, f"{base}-99999")


def test_isv_cannot_manage_staff(db: Database) -> None:
    m = make_merchant(db)
    isv = Principal(
        kind=PrincipalKind.ISV_STAFF, id=1, isv_id=1, tenant=Tenant(frozenset({m.merchant_id}))
    )
    data = StaffCreate(
        name="Backdoor", email="b@isv.test", password="password1", role=StaffRole.MANAGER
    )
    with db.transaction() as s:
        with pytest.raises(Forbidden) as exc:
            service.create_staff(s, isv, m.merchant_id, data)
        assert exc.value.code == "staff.role_forbidden"
        with pytest.raises(Forbidden):
            service.update_staff(s, isv, m.owner_staff_id, StaffUpdate(name="x"))
