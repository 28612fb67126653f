"""A small demo world for page tests: a merchant with a mini-program, items and a store, a
second merchant, a consumer with money, an operator and an ISV granted by the merchant."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests import factories as f


@dataclass(frozen=True)
class World:
    merchant: f.MerchantRef
    other: f.MerchantRef
    mini_program_id: int
    noodles_id: int
    dumplings_id: int
    consumer_id: int
    poor_consumer_id: int
    operator: f.Creds
    isv: f.IsvRef
    clerk: f.StaffRef


def top_up(db: Database, consumer_id: int, amount_fen: int) -> None:
    from ccare.ledger.service import top_up as ledger_top_up

    with db.transaction() as s:
        ledger_top_up(s, consumer_id, amount_fen, f"test-top-up:{consumer_id}:{amount_fen}")


def make_world(db: Database) -> World:
    merchant = f.make_merchant(db, name="西湖早餐", owner_email="owner@breakfast.test")
    other = f.make_merchant(db, name="Other Shop", owner_email="owner@other.test")
    f.make_store(db, merchant.merchant_id, name="Hefang Street")
    mp = f.make_mini_program(db, merchant.merchant_id, name="西湖早餐铺")
    noodles = f.make_item(db, merchant.merchant_id, mp, name="葱油拌面", price_fen=1200, stock=50)
    dumplings = f.make_item(db, merchant.merchant_id, mp, name="鲜肉小笼", price_fen=1850)
    consumer = f.make_consumer(db, name="小明")
    poor = f.make_consumer(db, name="Empty Wallet")
    top_up(db, consumer, 10_000)
    operator = f.make_operator(db)
    isv = f.make_isv(db, name="Kitchen ISV")
    f.grant(db, merchant.merchant_id, isv.isv_id)
    clerk = f.make_staff(db, merchant.merchant_id, role="clerk")
    return World(merchant, other, mp, noodles, dumplings, consumer, poor, operator, isv, clerk)


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def sign_in(client: TestClient, email: str, password: str) -> None:
    r = client.post(
        "/console/login", data={"email": email, "password": password}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def app_sign_in(client: TestClient, consumer_id: int) -> None:
    r = client.post("/app/login", data={"consumer_id": str(consumer_id)}, follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def en(client: TestClient) -> TestClient:
    client.cookies.set("ccare_locale", "en")
    return client
