"""Brand bookings through the API: availability, book (Idempotency-Key, out_request_no),
the refusals, cancel, the delivery report, managers only, and another merchant's booking
as "not found"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.time import local_date, utcnow
from tests import factories as f
from tests.brand_bookings.conftest import FUNDS, Advertiser, balance, fund, inventory

URL = "/api/v1/brand-bookings"


@pytest.fixture
def api(client: TestClient, adv: Advertiser) -> dict[str, Any]:
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    return {
        "h": f.login(client, adv.owner_email, adv.password),
        "body": {
            "out_request_no": "cny-1",
            "placement": "double_12",
            "creative_id": adv.creative_id,
            "start_day": tomorrow.isoformat(),
            "end_day": (tomorrow + timedelta(days=1)).isoformat(),
            "guaranteed": 1_001,
        },
        "tomorrow": tomorrow,
    }


def post(client: TestClient, h: dict[str, str], body: dict[str, Any], key: str) -> Any:
    return client.post(URL, json=body, headers={**h, "Idempotency-Key": key})


def test_book_list_report_cancel(
    client: TestClient, api: dict[str, Any], adv: Advertiser, db: Database
) -> None:
    h, body, tomorrow = api["h"], api["body"], api["tomorrow"]
    r = client.get(
        f"{URL}/availability",
        params={
            "placement": "double_12",
            "start_day": tomorrow.isoformat(),
            "end_day": tomorrow.isoformat(),
        },
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json() == [
        {
            "day": tomorrow.isoformat(),
            "forecast": 1_500_000,
            "source": "baseline",
            "sellable": 1_200_000,
            "booked": 0,
            "available": 1_200_000,
        }
    ]
    r = post(client, h, body, "k1")
    assert r.status_code == 201, r.text
    booking = r.json()
    assert (booking["amount_fen"], booking["cpm_fen"], booking["status"]) == (
        2_503,
        2_500,
        "reserved",
    )
    assert post(client, h, body, "k1").headers.get("Idempotent-Replayed") == "true"
    again = post(client, h, body, "k2")
    assert (again.status_code, again.json()["id"]) == (200, booking["id"])
    conflict = post(client, h, {**body, "guaranteed": 2_000}, "k3")
    assert (conflict.status_code, conflict.json()["code"]) == (
        409,
        "brand_bookings.request_conflict",
    )
    assert balance(db, adv.merchant_id) == FUNDS - 2_503
    assert inventory(db, "double_12")[tomorrow] == (1_200_000, 501)

    r = client.get(
        f"{URL}/availability",
        params={
            "placement": "double_12",
            "start_day": tomorrow.isoformat(),
            "end_day": tomorrow.isoformat(),
        },
        headers=h,
    )
    assert (r.json()[0]["booked"], r.json()[0]["available"]) == (501, 1_200_000 - 501)
    assert [b["id"] for b in client.get(URL, headers=h).json()] == [booking["id"]]
    one = client.get(f"{URL}/{booking['id']}", headers=h).json()
    assert one["guaranteed"] == 1_001
    report = client.get(f"{URL}/{booking['id']}/delivery", headers=h).json()
    assert [(d["goal"], d["delivered"], d["shortfall"]) for d in report["days"]] == [
        (501, 0, None),
        (500, 0, None),
    ]
    assert (report["shortfall"], report["refund_fen"], report["final"]) == (0, 0, False)

    r = client.post(f"{URL}/{booking['id']}/cancel", headers={**h, "Idempotency-Key": "c1"})
    assert (r.status_code, r.json()["status"], r.json()["refund_fen"]) == (200, "cancelled", 2_503)
    assert balance(db, adv.merchant_id) == FUNDS
    assert inventory(db, "double_12")[tomorrow] == (1_200_000, 0)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"placement": "payment_success"}, 422, "brand_bookings.placement_not_bookable"),
        ({"start_day": "2020-01-01", "end_day": "2020-01-02"}, 422, "brand_bookings.start_in_past"),
        ({"guaranteed": 999}, 422, "invalid_request"),
        ({"guaranteed": 2_000_001}, 409, "wallet.insufficient_funds"),  # ¥50,000.03
    ],
)
def test_refusals(
    client: TestClient,
    api: dict[str, Any],
    adv: Advertiser,
    db: Database,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    r = post(client, api["h"], {**api["body"], **change}, "k")
    assert (r.status_code, r.json()["code"]) == (status, code)
    assert balance(db, adv.merchant_id) == FUNDS
    assert inventory(db, "double_12") == {}
    assert client.get(URL, headers=api["h"]).json() == []


def test_money_calls_need_an_idempotency_key(client: TestClient, api: dict[str, Any]) -> None:
    r = client.post(URL, json=api["body"], headers=api["h"])
    assert (r.status_code, r.json()["code"]) == (422, "idempotency.key_missing")


def test_clerks_cannot_book(
    client: TestClient, api: dict[str, Any], adv: Advertiser, db: Database
) -> None:
    clerk = f.make_staff(db, adv.merchant_id, role="clerk")
    h = f.login(client, clerk.email, clerk.password)
    r = post(client, h, api["body"], "k")
    assert (r.status_code, r.json()["code"]) == (403, "staff.role_forbidden")


def test_another_merchants_booking_is_not_found(
    client: TestClient, api: dict[str, Any], adv: Advertiser, db: Database
) -> None:
    booking = post(client, api["h"], api["body"], "k").json()
    other = f.make_merchant(db, name="Third")
    fund(db, other.merchant_id, FUNDS)
    h = f.login(client, other.owner_email, other.password)
    for path in (f"{URL}/{booking['id']}", f"{URL}/{booking['id']}/delivery"):
        r = client.get(path, headers=h)
        assert (r.status_code, r.json()["code"]) == (404, "brand_bookings.not_found")
    r = client.post(f"{URL}/{booking['id']}/cancel", headers={**h, "Idempotency-Key": "x"})
    assert (r.status_code, r.json()["code"]) == (404, "brand_bookings.not_found")
    assert client.get(URL, headers=h).json() == []
    # Booking with someone else's creative: "not found" as well.
    r = post(client, h, {**api["body"], "out_request_no": "steal"}, "k")
    assert (r.status_code, r.json()["code"]) == (404, "promotion.creative_not_found")
    assert balance(db, adv.merchant_id) == FUNDS - 2_503
    assert balance(db, other.merchant_id) == FUNDS
