"""GET /api/v1/ad-reports (and .csv): the figures of tests/promotion/test_reports.py's
story through the API, for the merchant's staff, its ISV and the operator; bad input is
refused with its code and another merchant's report stays out of reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.runtime import Runtime
from tests import factories as f
from tests.promotion.test_reports import AdsWorld, build, drive

URL = "/api/v1/ad-reports"


@pytest.fixture
def ads(client: TestClient, db: Database, runtime: Runtime) -> AdsWorld:
    w = build(db, runtime)
    drive(w)
    return w


def _owner(client: TestClient, w: AdsWorld) -> dict[str, str]:
    return f.login(client, w.merchant.owner_email, w.merchant.password)


def _range(w: AdsWorld) -> str:
    return f"from={w.day(1).isoformat()}&to={w.day(2).isoformat()}"


def test_by_plan_for_the_merchants_staff(client: TestClient, ads: AdsWorld) -> None:
    r = client.get(f"{URL}?by=plan&{_range(ads)}", headers=_owner(client, ads))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("merchant_id", "by", "start_day", "end_day")} == {
        "merchant_id": ads.merchant_id,
        "by": "plan",
        "start_day": ads.day(1).isoformat(),
        "end_day": ads.day(2).isoformat(),
    }
    assert (body["plan_id"], body["group_id"]) == (None, None)
    assert body["rows"] == [
        {
            "plan_id": ads.breakfast,
            "group_id": None,
            "creative_id": None,
            "day": None,
            "placement": None,
            "name": "Breakfast",
            "impressions": 4,
            "clicks": 2,
            "invalid_clicks": 1,
            "spend_fen": 80,
            "ctr_bp": 5_000,
            "conversions": 1,
            "conversion_value_fen": 3_200,
            "cpa_fen": 80,
            "roi_bp": 400_000,
        },
        {
            "plan_id": ads.coupons,
            "group_id": None,
            "creative_id": None,
            "day": None,
            "placement": None,
            "name": "Coupons",
            "impressions": 3,
            "clicks": 1,
            "invalid_clicks": 0,
            "spend_fen": 1,
            "ctr_bp": 3_333,
            "conversions": 1,
            "conversion_value_fen": 500,
            "cpa_fen": 1,
            "roi_bp": 5_000_000,
        },
    ]
    assert body["total"] == {
        "impressions": 7,
        "clicks": 3,
        "invalid_clicks": 1,
        "spend_fen": 81,
        "ctr_bp": 4_286,
        "conversions": 2,
        "conversion_value_fen": 3_700,
        "cpa_fen": 41,
        "roi_bp": 456_790,
    }


def test_by_day_by_default_and_filtered_by_group(client: TestClient, ads: AdsWorld) -> None:
    h = _owner(client, ads)
    body = client.get(URL, headers=h).json()
    assert body["by"] == "day"
    assert [row["day"] for row in body["rows"]] == [
        (ads.today - timedelta(days=6 - i)).isoformat() for i in range(7)
    ]
    assert [row["impressions"] for row in body["rows"]] == [0, 0, 1, 5, 2, 1, 0]
    assert (body["total"]["spend_fen"], body["total"]["cpa_fen"]) == (83, 42)
    r = client.get(
        f"{URL}?by=creative&{_range(ads)}&plan_id={ads.breakfast}&group_id={ads.high}", headers=h
    )
    assert r.status_code == 200, r.text
    [row] = r.json()["rows"]
    assert (row["plan_id"], row["group_id"], row["creative_id"], row["name"]) == (
        ads.breakfast,
        ads.high,
        ads.high_ad,
        "High ad",
    )
    assert (row["impressions"], row["clicks"], row["spend_fen"], row["roi_bp"]) == (
        2,
        2,
        80,
        400_000,
    )


def test_csv_export(client: TestClient, ads: AdsWorld) -> None:
    r = client.get(f"{URL}.csv?by=plan&{_range(ads)}", headers=_owner(client, ads))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    name = f"ad-report-{ads.merchant_id}-plan-{ads.day(1)}-{ads.day(2)}.csv"
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert r.text == (
        "plan_id,group_id,creative_id,day,placement,name,impressions,clicks,invalid_clicks,"
        "spend_fen,ctr_bp,conversions,conversion_value_fen,cpa_fen,roi_bp\n"
        f"{ads.breakfast},,,,,Breakfast,4,2,1,80,5000,1,3200,80,400000\n"
        f"{ads.coupons},,,,,Coupons,3,1,0,1,3333,1,500,1,5000000\n"
        ",,,,,total,7,3,1,81,4286,2,3700,41,456790\n"
    )


def test_bad_input(client: TestClient, db: Database, ads: AdsWorld) -> None:
    h = _owner(client, ads)
    cases = [
        (f"from={ads.day(2)}&to={ads.day(1)}", 422, "promotion.report_range"),
        ("from=2026-01-01&to=2026-04-03", 422, "promotion.report_range"),
        ("from=2026-01-01&to=2026-04-02", 200, None),  # 92 days
        ("by=moon", 422, "invalid_request"),
        ("from=yesterday", 422, "invalid_request"),
        ("from=0001-01-01&to=0001-01-02", 422, "promotion.report_range"),
        ("to=9999-12-31", 422, "promotion.report_range"),
        ("plan_id=0", 422, "invalid_request"),
        (f"plan_id={ads.theirs}", 404, "promotion.plan_not_found"),
        (f"plan_id={ads.coupons}&group_id={ads.high}", 404, "promotion.group_not_found"),
        (f"merchant_id={ads.other.merchant_id}", 404, "merchant.not_found"),
    ]
    for query, status, code in cases:
        for path in (URL, f"{URL}.csv"):
            r = client.get(f"{path}?{query}", headers=h)
            assert (r.status_code, r.json()["code"] if code else None) == (status, code), (
                path,
                query,
                r.text,
            )
    op = f.make_operator(db)
    operator = f.login(client, op.email, op.password)
    r = client.get(URL, headers=operator)
    assert (r.status_code, r.json()["code"]) == (422, "promotion.merchant_required")
    r = client.get(f"{URL}?merchant_id={ads.merchant_id}&{_range(ads)}", headers=operator)
    assert (r.status_code, r.json()["total"]["spend_fen"]) == (200, 81)
    consumer = f.consumer_login(client, ads.u1)
    r = client.get(URL, headers=consumer)
    assert (r.status_code, r.json()["code"]) == (403, "auth.staff_only")
    assert client.get(URL).status_code == 401


def test_another_merchant_and_isvs(client: TestClient, db: Database, ads: AdsWorld) -> None:
    other = f.login(client, ads.other.owner_email, ads.other.password)
    body = client.get(f"{URL}?by=plan&{_range(ads)}", headers=other).json()
    assert [(row["plan_id"], row["name"], row["spend_fen"]) for row in body["rows"]] == [
        (ads.theirs, "Theirs", 20)
    ]
    r = client.get(f"{URL}?merchant_id={ads.merchant_id}", headers=other)
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")
    r = client.get(f"{URL}?plan_id={ads.breakfast}", headers=other)
    assert (r.status_code, r.json()["code"]) == (404, "promotion.plan_not_found")
    r = client.get(f"{URL}?group_id={ads.high}", headers=other)
    assert (r.status_code, r.json()["code"]) == (404, "promotion.group_not_found")

    granted = f.make_isv(db, name="A's ISV")
    f.grant(db, ads.merchant_id, granted.isv_id)
    stranger = f.make_isv(db, name="Stranger")
    isv = f.login(client, granted.email, granted.password)
    r = client.get(f"{URL}?by=plan&{_range(ads)}&merchant_id={ads.merchant_id}", headers=isv)
    assert (r.status_code, r.json()["total"]["spend_fen"]) == (200, 81)
    r = client.get(
        f"{URL}?merchant_id={ads.merchant_id}",
        headers=f.login(client, stranger.email, stranger.password),
    )
    assert (r.status_code, r.json()["code"]) == (404, "merchant.not_found")


def test_openapi_documents_the_routes(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    get = paths[URL]["get"]
    assert get["summary"].startswith("Spend, impressions, clicks, CTR")
    assert get["tags"][0] == "promotion"
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AdReport"
    }
    assert {p["name"] for p in get["parameters"]} == {
        "merchant_id",
        "by",
        "from",
        "to",
        "plan_id",
        "group_id",
    }
    assert "text/csv" in paths[f"{URL}.csv"]["get"]["responses"]["200"]["content"]
