"""The merchant's promotion pages list its plans, a plan's groups and a group's creatives
with their review, and the placements with their reserves; another merchant's plans do
not show."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ccare.core.db import Database
from tests import factories as f
from tests.web.conftest import make_world, sign_in


def test_the_page_shows_the_merchants_ads_and_the_placements(en: TestClient, db: Database) -> None:
    w = make_world(db)
    h = f.login(en, w.merchant.owner_email, w.merchant.password)
    other = f.login(en, w.other.owner_email, w.other.password)
    for who, name in ((h, "Mine"), (other, "Theirs")):
        r = en.post(
            "/api/v1/ad-plans",
            json={
                "out_request_no": "p",
                "name": name,
                "objective": "leads",
                "daily_budget_fen": 5000,
            },
            headers=who,
        )
        assert r.status_code == 201, r.text
    pid = en.get("/api/v1/ad-plans", headers=h).json()[0]["id"]
    gid = en.post(
        "/api/v1/ad-groups",
        json={
            "plan_id": pid,
            "name": "Morning",
            "bid_fen": 40,
            "targeting": {"placements": ["home_feed", "coupon_venue"]},
        },
        headers=h,
    ).json()["id"]
    en.post(
        "/api/v1/ad-creatives",
        json={
            "group_id": gid,
            "title": "Soy milk",
            "mini_program_id": w.mini_program_id,
            "page": "pages/index",
        },
        headers=h,
    )
    sign_in(en, w.merchant.owner_email, w.merchant.password)

    page = en.get("/console/merchant/promotion").text
    plan = en.get(f"/console/merchant/promotion/plans/{pid}").text
    group = en.get(f"/console/merchant/promotion/groups/{gid}").text

    assert "Mine" in page and "Theirs" not in page
    assert f'<td><a href="/console/merchant/promotion/groups/{gid}">Morning</a></td>' in plan
    assert "<td>Home feed, Coupon venue</td>" in plan
    assert (
        "<td><strong>Soy milk</strong></td>" in group
        and '<span class="badge badge-pending" data-review="pending">Pending review</span>' in group
    )
    search = (
        '<tr data-placement="search_results"><td>Search results</td><td>search</td>'
        '<td class="num">¥0.30</td><td class="num">—</td></tr>'
    )
    assert search in page
    assert '<tr data-placement="five_blessings">' in page
