"""The merchant's side: favorite settings (validated against the coupon product), the
favorites report, and tenancy (another merchant can neither read nor change either)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.favorites.report import daily_changes
from ccare.favorites.schemas import DayCount, FavoriteAdded, FavoriteRemoved
from ccare.runtime import Runtime
from tests.factories import login, make_staff
from tests.favorites.conftest import Shop, deliver, new_activity, new_buyer

PG_URL = os.environ.get("CCARE_TEST_DATABASE_URL", "")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _url(shop: Shop, tail: str = "favorite-settings") -> str:
    return f"/api/v1/mini-programs/{shop.mini_program_id}/{tail}"


def test_settings_take_live_activities_of_the_same_merchant(
    client: TestClient, shop: Shop, db: Database
) -> None:
    gift = new_activity(client, shop.owner, out_biz_no="gift")
    perk = new_activity(client, shop.owner, out_biz_no="perk", name="会员专享")
    stopped = new_activity(client, shop.owner, out_biz_no="old")
    r = client.post(
        f"/api/v1/coupon-activities/{stopped}/status",
        json={"status": "stopped"},
        headers=shop.owner,
    )
    assert r.status_code == 200, r.text
    theirs = new_activity(client, shop.other_owner, out_biz_no="theirs")

    empty = client.get(_url(shop), headers=shop.owner).json()
    saved = client.put(
        _url(shop),
        json={"gift_activity_id": gift, "benefit_activity_ids": [perk]},
        headers=shop.owner,
    )
    read = client.get(_url(shop), headers=shop.owner).json()

    def put(body: dict[str, object]) -> tuple[int, str]:
        r = client.put(_url(shop), json=body, headers=shop.owner)
        return r.status_code, r.json().get("code", "")

    assert (empty["gift"], empty["benefits"], empty["updated_at"]) == (None, [], None)
    assert saved.status_code == 200, saved.text
    assert (read["gift"]["id"], [b["name"] for b in read["benefits"]]) == (gift, ["会员专享"])
    assert read["updated_by"].startswith("merchant_staff:")
    assert put({"gift_activity_id": theirs}) == (422, "favorite.activity_not_found")
    assert put({"benefit_activity_ids": [999_999]}) == (422, "favorite.activity_not_found")
    assert put({"gift_activity_id": stopped}) == (422, "favorite.activity_ended")
    assert put({"gift_activity_id": gift, "benefit_activity_ids": [gift]}) == (
        422,
        "favorite.gift_is_benefit",
    )
    assert put({"benefit_activity_ids": [perk, perk]}) == (422, "invalid_request")
    assert put({"benefit_activity_ids": list(range(1, 7))}) == (422, "invalid_request")
    clerk = make_staff(db, shop.merchant_id, role="clerk")
    r = client.put(
        _url(shop),
        json={"gift_activity_id": None},
        headers=login(client, clerk.email, clerk.password),
    )
    assert (r.status_code, r.json()["code"]) == (403, "staff.role_forbidden")
    # Nothing of the refused changes was kept.
    assert client.get(_url(shop), headers=shop.owner).json() == read
    cleared = client.put(_url(shop), json={}, headers=shop.owner).json()
    assert (cleared["gift"], cleared["benefits"]) == (None, [])


def test_another_merchant_cannot_read_or_change_settings_or_stats(
    client: TestClient, shop: Shop
) -> None:
    gift = new_activity(client, shop.owner, out_biz_no="gift")
    client.put(_url(shop), json={"gift_activity_id": gift}, headers=shop.owner)
    theirs = new_activity(client, shop.other_owner, out_biz_no="theirs")
    before = client.get(_url(shop), headers=shop.owner).json()

    for method, url, body in [
        ("GET", _url(shop), None),
        ("PUT", _url(shop), {"gift_activity_id": theirs}),
        ("PUT", _url(shop), {}),
        ("GET", _url(shop, "favorites"), None),
    ]:
        r = client.request(method, url, json=body, headers=shop.other_owner)
        assert (r.status_code, r.json()["code"]) == (404, "mini_program.not_found"), url
    assert client.get(_url(shop), headers=shop.owner).json() == before


def test_the_report_counts_favoriters_and_daily_changes(
    client: TestClient, shop: Shop, runtime: Runtime
) -> None:
    mp = shop.mini_program_id
    buyers = [shop.buyer] + [new_buyer(client, runtime.db, f"B{i}") for i in range(3)]
    for b in buyers:
        client.put(f"/api/v1/me/favorites/{mp}", json={"channel": "storefront"}, headers=b)
    client.delete(f"/api/v1/me/favorites/{mp}", headers=buyers[1])
    client.put(f"/api/v1/me/favorites/{shop.other_mini_program_id}", headers=buyers[2])
    deliver(runtime)

    report = client.get(_url(shop, "favorites"), headers=shop.owner).json()
    page = client.get(_url(shop, "favorites") + "?limit=2&offset=1", headers=shop.owner).json()

    assert report["current"] == 3
    assert len(report["days"]) == 30
    today = report["days"][-1]
    assert (today["added"], today["removed"]) == (4, 1)
    assert sum(d["added"] for d in report["days"]) == 4
    favoriters = report["favoriters"]
    assert favoriters["total"] == 3
    ids = [f["consumer_id"] for f in favoriters["items"]]
    assert ids[-1] == shop.consumer_id  # newest first: the first favoriter is last
    assert [f["channel"] for f in favoriters["items"]] == ["storefront"] * 3
    assert [f["consumer_id"] for f in page["favoriters"]["items"]] == ids[1:3]
    assert (page["favoriters"]["limit"], page["favoriters"]["offset"]) == (2, 1)


@pytest.fixture
def store(analytics_store: AnalyticsStore) -> AnalyticsStore:
    return analytics_store


def test_daily_changes_are_the_same_on_every_backend(store: AnalyticsStore) -> None:
    def added(n: int, at: datetime, mp: int = 5, merchant: int = 1) -> FavoriteAdded:
        return FavoriteAdded(
            event_id=f"fa{n:030d}",
            occurred_at=at,
            merchant_id=merchant,
            consumer_id=n,
            mini_program_id=mp,
            channel="storefront",
        )

    store.record(
        [
            # 16:30 UTC on the 22nd is 00:30 on the 23rd in Beijing: counted on the 23rd.
            added(1, datetime(2026, 11, 22, 16, 30, tzinfo=UTC)),
            added(2, datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
            added(3, datetime(2026, 11, 24, 1, 0, tzinfo=UTC)),
            added(4, datetime(2026, 11, 24, 1, 0, tzinfo=UTC), mp=6),  # another mini-program
            added(5, datetime(2026, 11, 24, 1, 0, tzinfo=UTC), merchant=2),  # another merchant
            added(6, NOW - timedelta(days=31)),  # before the window
            FavoriteRemoved(
                event_id="fr" + "0" * 30,
                occurred_at=datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
                merchant_id=1,
                consumer_id=2,
                mini_program_id=5,
            ),
        ]
    )

    days = daily_changes(store.events_table(), 1, 5, now=NOW)

    assert len(days) == 30
    assert days[0].day == date(2026, 10, 26)
    assert days[-3:] == [
        DayCount(day=date(2026, 11, 22), added=0, removed=0),
        DayCount(day=date(2026, 11, 23), added=2, removed=0),
        DayCount(day=date(2026, 11, 24), added=1, removed=1),
    ]
    assert sum(d.added for d in days) == 3
    assert daily_changes(None, 1, 5, now=NOW)[-1] == DayCount(
        day=date(2026, 11, 24), added=0, removed=0
    )
