"""The client's address behind a reverse proxy: `X-Forwarded-For` counts only from the peers
named in `forwarded_allow_ips`; from anyone else it is ignored and the peer is the client.

The address is read where it matters, in the anti-cheating filter's records: every address
used here is blacklisted, so each claim is rejected and the risk report shows the address
the platform took for the claimer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from ccare.config import Settings
from ccare.runtime import Runtime
from ccare.web.app import create_app
from tests.coupons.test_activities import activity
from tests.factories import login, make_consumer, make_merchant, make_operator

ADDRESSES = ("testclient", "10.0.0.1", "10.0.0.2", "203.0.113.7", "198.51.100.9", "1.1.1.1")

# (trusted peers, peer, X-Forwarded-For) -> the address the platform records
SeenFrom = Callable[[str, str, str | None], str]


@pytest.fixture
def seen_from(runtime: Runtime) -> SeenFrom:
    with TestClient(create_app(runtime)) as setup:
        operator = make_operator(runtime.db)
        op = login(setup, operator.email, operator.password)
        for address in ADDRESSES:
            listed = {"kind": "ip", "value": address}
            assert setup.post("/api/v1/coupon-blacklist", json=listed, headers=op).is_success
        merchant = make_merchant(runtime.db)
        owner = login(setup, merchant.owner_email, merchant.password)
        made = setup.post("/api/v1/coupon-activities", json=activity(quantity=50), headers=owner)
        activity_id = made.json()["id"]
    consumer_id = make_consumer(runtime.db)
    claims = iter(range(1, 100))

    def claim(trusted: str, peer: str, forwarded: str | None) -> str:
        settings = runtime.settings.model_copy(update={"forwarded_allow_ips": trusted})
        app = create_app(dataclasses.replace(runtime, settings=settings))
        with TestClient(app, client=(peer, 40_000)) as http:
            token = http.post("/api/v1/auth/consumer-login", json={"consumer_id": consumer_id})
            headers = {"Authorization": f"Bearer {token.json()['token']}"}
            if forwarded is not None:
                headers["X-Forwarded-For"] = forwarded
            body = {"channel": "coupon_venue", "claim_key": f"k{next(claims)}"}
            refused = http.post(
                f"/api/v1/coupon-activities/{activity_id}/claim", json=body, headers=headers
            )
            assert refused.json()["code"] == "coupon.claim_reject"
            report = http.get(f"/api/v1/coupon-activities/{activity_id}/risk", headers=owner)
            return str(report.json()["blocked"][0]["ip"])  # newest first

    return claim


def test_a_trusted_proxy_names_the_client(seen_from: SeenFrom) -> None:
    assert seen_from("testclient", "testclient", "203.0.113.7") == "203.0.113.7"
    assert seen_from("10.0.0.1", "10.0.0.1", "203.0.113.7") == "203.0.113.7"
    assert seen_from("10.0.0.0/8", "10.0.0.2", "198.51.100.9") == "198.51.100.9"
    # Without the header the trusted proxy itself is the client.
    assert seen_from("10.0.0.1", "10.0.0.1", None) == "10.0.0.1"


def test_the_header_from_anyone_else_is_ignored(seen_from: SeenFrom) -> None:
    assert seen_from("", "testclient", "203.0.113.7") == "testclient"  # the default
    assert seen_from("10.0.0.1", "10.0.0.2", "203.0.113.7") == "10.0.0.2"
    assert seen_from("10.0.0.1", "testclient", "198.51.100.9") == "testclient"


def test_through_a_chain_of_proxies_the_nearest_untrusted_address_is_the_client(
    seen_from: SeenFrom,
) -> None:
    # Each proxy appends the address it saw: the client cannot pass as someone else by
    # writing an address of its choosing first.
    proxies = "10.0.0.1, 10.0.0.2"
    assert seen_from(proxies, "10.0.0.1", "198.51.100.9, 10.0.0.2") == "198.51.100.9"
    assert seen_from(proxies, "10.0.0.1", "1.1.1.1, 198.51.100.9, 10.0.0.2") == "198.51.100.9"
    assert seen_from("*", "10.0.0.2", "1.1.1.1, 198.51.100.9") == "1.1.1.1"


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCARE_FORWARDED_ALLOW_IPS", "10.0.0.1,10.1.0.0/16")
    assert Settings(_env_file=None).forwarded_allow_ips == "10.0.0.1,10.1.0.0/16"  # type: ignore[call-arg]
    monkeypatch.delenv("CCARE_FORWARDED_ALLOW_IPS")
    assert Settings(_env_file=None).forwarded_allow_ips == ""  # type: ignore[call-arg]
