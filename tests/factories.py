"""Test data through the products' own services, each call in its own committed transaction.

Every factory returns small frozen records of ids and credentials, never ORM objects, so
tests cannot depend on a session that is already closed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.testclient import TestClient

# Registers its table before the session-wide schema is created; otherwise only the first
# create_app() imports it and the next test's wipe meets a table that was never created.
import ccare.core.idempotency  # noqa: F401
from ccare.core.db import Database
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, StaffRole

_seq = itertools.count(1)

# Factories act as the platform; services accept an operator for every setup call.
FACTORY_OPERATOR = Principal(kind=PrincipalKind.OPERATOR, id=0, name="factory", tenant=PLATFORM)


def _n() -> int:
    return next(_seq)


@dataclass(frozen=True)
class Creds:
    id: int
    email: str
    password: str


@dataclass(frozen=True)
class MerchantRef:
    merchant_id: int
    owner_staff_id: int
    owner_email: str
    password: str


@dataclass(frozen=True)
class StaffRef:
    staff_id: int
    merchant_id: int
    email: str
    password: str
    role: str


@dataclass(frozen=True)
class IsvRef:
    isv_id: int
    staff_id: int
    email: str
    password: str


def make_operator(
    db: Database, email: str = "op@ccare.test", password: str = "operator-pass"
) -> Creds:
    from ccare.identity.schemas import OperatorCreate
    from ccare.identity.service import create_operator

    with db.transaction() as s:
        op = create_operator(s, OperatorCreate(email=email, name="Operator", password=password))
        return Creds(id=op.id, email=op.email, password=password)


def make_merchant(
    db: Database,
    name: str = "Merchant A",
    industry: str = "catering",
    owner_email: str | None = None,
    password: str = "owner-pass-1",
    city: str = "Hangzhou",
) -> MerchantRef:
    from ccare.merchants.models import Industry
    from ccare.merchants.schemas import MerchantCreate
    from ccare.merchants.service import create_merchant, list_staff

    email = owner_email or f"owner{_n()}@merchant.test"
    data = MerchantCreate(
        name=name,
        industry=Industry(industry),
        city=city,
        owner_name=f"{name} owner",
        owner_email=email,
        owner_password=password,
    )
    with db.transaction() as s:
        merchant = create_merchant(s, FACTORY_OPERATOR, data)
        owner = list_staff(s, PLATFORM, merchant.id)[0]
        return MerchantRef(merchant.id, owner.id, owner.email, password)


def make_staff(
    db: Database,
    merchant_id: int,
    role: str = "clerk",
    email: str | None = None,
    password: str = "staff-pass-1",
) -> StaffRef:
    from ccare.merchants.schemas import StaffCreate
    from ccare.merchants.service import create_staff

    email = email or f"staff{_n()}@merchant.test"
    data = StaffCreate(name=f"{role} {email}", email=email, password=password, role=StaffRole(role))
    with db.transaction() as s:
        staff = create_staff(s, FACTORY_OPERATOR, merchant_id, data)
        return StaffRef(staff.id, merchant_id, staff.email, password, staff.role.value)


def make_store(
    db: Database, merchant_id: int, name: str = "Store 1", city: str = "Hangzhou"
) -> int:
    from ccare.merchants.schemas import StoreCreate
    from ccare.merchants.service import create_store

    data = StoreCreate(name=name, city=city, address=f"{_n()} West Lake Road")
    with db.transaction() as s:
        return create_store(s, FACTORY_OPERATOR, merchant_id, data).id


def make_mini_program(db: Database, merchant_id: int, name: str = "Shop") -> int:
    from ccare.catalog.schemas import MiniProgramCreate
    from ccare.catalog.service import create_mini_program

    data = MiniProgramCreate(merchant_id=merchant_id, name=name, category="food")
    with db.transaction() as s:
        return create_mini_program(s, FACTORY_OPERATOR, data).id


def make_item(
    db: Database,
    merchant_id: int,
    mini_program_id: int,
    name: str = "Item",
    price_fen: int = 1000,
    stock: int | None = None,
    kind: str = "goods",
) -> int:
    from ccare.catalog.models import ItemKind
    from ccare.catalog.schemas import ItemCreate
    from ccare.catalog.service import create_item, get_mini_program

    data = ItemCreate(name=name, price_fen=price_fen, stock=stock, kind=ItemKind(kind))
    with db.transaction() as s:
        if get_mini_program(s, PLATFORM, mini_program_id).merchant_id != merchant_id:
            raise ValueError("mini-program belongs to another merchant")
        return create_item(s, FACTORY_OPERATOR, mini_program_id, data).id


def make_consumer(
    db: Database,
    name: str = "Consumer",
    phone: str | None = None,
    city: str = "Hangzhou",
    member_level: str = "public",
) -> int:
    from ccare.consumers.models import MemberLevel
    from ccare.consumers.schemas import ConsumerCreate
    from ccare.consumers.service import create_consumer

    phone = phone or f"139{_n():08d}"
    data = ConsumerCreate(name=name, phone=phone, city=city, member_level=MemberLevel(member_level))
    with db.transaction() as s:
        return create_consumer(s, FACTORY_OPERATOR, data).id


def make_isv(
    db: Database, name: str = "ISV", staff_email: str | None = None, password: str = "isv-pass-1"
) -> IsvRef:
    from ccare.isvs.schemas import IsvCreate
    from ccare.isvs.service import create_isv, list_isv_staff

    email = staff_email or f"isv{_n()}@isv.test"
    data = IsvCreate(
        name=name,
        contact_email=email,
        staff_name=f"{name} admin",
        staff_email=email,
        staff_password=password,
    )
    with db.transaction() as s:
        isv = create_isv(s, FACTORY_OPERATOR, data)
        staff = list_isv_staff(s, isv.id)[0]
        return IsvRef(isv.id, staff.id, staff.email, password)


def grant(
    db: Database, merchant_id: int, isv_id: int, scopes: Sequence[str] = ("orders", "catalog")
) -> int:
    """The merchant's first owner grants the ISV, as they would in the console."""
    from ccare.isvs.service import grant_isv
    from ccare.merchants.service import list_staff, staff_principal

    with db.transaction() as s:
        owner = next(
            st
            for st in list_staff(s, PLATFORM, merchant_id)
            if st.role == StaffRole.OWNER and st.active
        )
        actor = staff_principal(s, owner.id)
        assert actor is not None
        return grant_isv(s, actor, isv_id, list(scopes)).id


def login(client: TestClient, email: str, password: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def consumer_login(client: TestClient, consumer_id: int) -> dict[str, str]:
    r = client.post("/api/v1/auth/consumer-login", json={"consumer_id": consumer_id})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
