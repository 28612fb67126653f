"""A merchant's own signed app sends events and reads profiles with the `profiles` scope;
without it the app is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ccare.client import ApiError, CcareClient
from ccare.core.signing import SignAlgorithm, generate_private_key
from ccare.core.time import utcnow
from ccare.openplatform.schemas import SCOPES
from tests.openplatform.helpers import new_app
from tests.profiles.conftest import Shop


def batch(consumer_id: int) -> dict[str, object]:
    at = (utcnow() - timedelta(minutes=3)).isoformat()
    return {
        "events": [
            {"event_id": "app-1", "consumer_id": consumer_id, "name": "visit", "occurred_at": at}
        ]
    }


def test_an_app_without_the_profiles_scope_is_refused(client: TestClient, shop: Shop) -> None:
    key = generate_private_key(SignAlgorithm.ED25519)
    app = new_app(client, shop.owner, key, scopes=["orders"])
    api = CcareClient(app_id=app["app_id"], private_key=key, http=client)
    with pytest.raises(ApiError) as refused:
        api.post("/api/v1/customer-events", batch(shop.alice))
    assert (refused.value.status, refused.value.code) == (403, "app.scope_missing")


def test_a_signed_app_sends_events_for_its_merchant(client: TestClient, shop: Shop) -> None:
    if "profiles" not in SCOPES:
        pytest.skip("the open platform has no 'profiles' scope yet")
    key = generate_private_key(SignAlgorithm.ED25519)
    app = new_app(client, shop.owner, key, scopes=["profiles"])
    api = CcareClient(app_id=app["app_id"], private_key=key, http=client)
    result = api.post("/api/v1/customer-events", batch(shop.alice))
    assert (result["merchant_id"], result["accepted_ids"]) == (shop.merchant.merchant_id, ["app-1"])
    again = api.post("/api/v1/customer-events", batch(shop.alice))
    assert again["duplicate_ids"] == ["app-1"]
    assert api.get("/api/v1/customer-profiles")["merchant_id"] == shop.merchant.merchant_id
