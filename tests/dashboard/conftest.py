"""A merchant, another merchant and an ISV granted by the first."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ccare.core.db import Database
from tests import factories as f


@dataclass(frozen=True)
class Shop:
    merchant: f.MerchantRef
    other: f.MerchantRef
    isv: f.IsvRef
    alice: int
    bob: int


@pytest.fixture
def shop(db: Database) -> Shop:
    merchant = f.make_merchant(db, name="West Lake Breakfast")
    other = f.make_merchant(db, name="Other Shop")
    isv = f.make_isv(db, name="Kitchen ISV")
    f.grant(db, merchant.merchant_id, isv.isv_id)
    alice = f.make_consumer(db, name="Alice")
    bob = f.make_consumer(db, name="Bob")
    return Shop(merchant, other, isv, alice, bob)
