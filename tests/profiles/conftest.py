"""A merchant with customers, another merchant, an ISV granted by the first, and a helper
that relays the outbox to the test's analytics store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.worker import InProcessTransport, drain
from ccare.runtime import Runtime
from tests import factories as f


@dataclass(frozen=True)
class Shop:
    merchant: f.MerchantRef
    other: f.MerchantRef
    isv: f.IsvRef
    alice: int
    bob: int
    owner: dict[str, str]
    other_owner: dict[str, str]
    isv_staff: dict[str, str]


@pytest.fixture
def shop(client: TestClient, db: Database) -> Shop:
    merchant = f.make_merchant(db, name="West Lake Breakfast")
    other = f.make_merchant(db, name="Other Shop")
    isv = f.make_isv(db, name="Kitchen ISV")
    f.grant(db, merchant.merchant_id, isv.isv_id)
    alice = f.make_consumer(db, name="Alice", member_level="gold")
    bob = f.make_consumer(db, name="Bob")
    return Shop(
        merchant,
        other,
        isv,
        alice,
        bob,
        f.login(client, merchant.owner_email, merchant.password),
        f.login(client, other.owner_email, other.password),
        f.login(client, isv.email, isv.password),
    )


@pytest.fixture
def relay(runtime: Runtime) -> Callable[[], int]:
    """Deliver every pending outbox event to subscribers and the analytics store."""

    def run() -> int:
        return drain(runtime.db, InProcessTransport(runtime.db, runtime.analytics))

    return run
