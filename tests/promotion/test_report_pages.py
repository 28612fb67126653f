"""The merchant's ad report page (/console/merchant/promotion/reports): the figures of
tests/promotion/test_reports.py's story in English and Chinese, the charts' data, the
CSV, a bad form answered with its reason, and nothing of another merchant's."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.runtime import Runtime
from tests.promotion.test_reports import AdsWorld, build, drive
from tests.web.conftest import sign_in

PAGE = "/console/merchant/promotion/reports"


@pytest.fixture
def ads(client: TestClient, db: Database, runtime: Runtime) -> AdsWorld:
    w = build(db, runtime)
    drive(w)
    return w


def _get(client: TestClient, w: AdsWorld, query: str, *, status: int = 200) -> str:
    sign_in(client, w.merchant.owner_email, w.merchant.password)
    r = client.get(f"{PAGE}?{query}")
    assert r.status_code == status, r.text
    return r.text


def _range(w: AdsWorld) -> str:
    return f"from={w.day(1)}&to={w.day(2)}"


def _row(key: str, label: str, *cells: str) -> str:
    tds = "".join(f'<td class="num">{c}</td>' for c in cells)
    return f'<tr data-row="{key}"><td>{label}</td>{tds}</tr>'


def _chart(page: str, canvas: str) -> Any:
    found = re.search(rf'id="{canvas}"[^>]*data-chart="([^"]*)"', page)
    assert found, canvas
    return json.loads(html.unescape(found.group(1)))


# impressions, clicks, CTR, invalid clicks, spend, conversions, value, CPA, ROI
BREAKFAST = ("4", "2", "50.00%", "1", "¥0.80", "1", "¥32.00", "¥0.80", "40.00")
COUPONS = ("3", "1", "33.33%", "0", "¥0.01", "1", "¥5.00", "¥0.01", "500.00")
TOTAL = ("7", "3", "42.86%", "1", "¥0.81", "2", "¥37.00", "¥0.41", "45.68")


def test_by_plan_in_english(en: TestClient, ads: AdsWorld) -> None:
    page = _get(en, ads, f"by=plan&{_range(ads)}")
    assert "<title>Ad reports" in page
    assert _row("1", "Breakfast", *BREAKFAST) in page
    assert _row("2", "Coupons", *COUPONS) in page
    assert _row("total", "Total", *TOTAL) in page
    assert (
        '<th class="num">Impressions</th><th class="num">Clicks</th><th class="num">CTR</th>'
        in page
    )
    assert (
        '<div class="kpi" data-kpi="spend"><p class="label">Spend</p><p class="value">¥0.81</p>'
        in page
    )
    assert '<p class="hint">CPA ¥0.41</p>' in page
    assert f'<input id="report-from" name="from" type="date" value="{ads.day(1)}">' in page
    assert '<option value="plan" selected>Ad plan</option>' in page
    days = [ads.day(1).strftime("%m-%d"), ads.day(2).strftime("%m-%d")]
    assert _chart(page, "daily-chart") == {"labels": days, "spend": [0.41, 0.4], "clicks": [2, 1]}
    assert _chart(page, "by-row-chart") == {
        "labels": ["Breakfast", "Coupons"],
        "spend": [0.8, 0.01],
        "clicks": [2, 1],
    }
    assert 'data-label-spend="Spend (¥)"' in page


def test_by_placement_and_by_day_in_chinese(client: TestClient, ads: AdsWorld) -> None:
    page = _get(client, ads, f"by=placement&{_range(ads)}")
    assert "<title>推广报表" in page
    assert _row("1", "首页信息流", *BREAKFAST) in page
    assert _row("2", "领券中心", *COUPONS) in page
    assert _row("total", "合计", *TOTAL) in page
    assert (
        '<th class="num">展示量</th><th class="num">点击量</th><th class="num">点击率</th>' in page
    )
    assert _chart(page, "by-row-chart")["labels"] == ["首页信息流", "领券中心"]

    page = _get(client, ads, f"by=day&from={ads.day(0)}&to={ads.day(3)}")
    assert (
        _row("1", ads.day(0).isoformat(), "1", "0", "0.00%", "0", "¥0.00", "0", "¥0.00", "—", "—")
        in page
    )
    assert (
        _row(
            "2", ads.day(1).isoformat(), "5", "2", "40.00%", "1", "¥0.41", "0", "¥0.00", "—", "0.00"
        )
        in page
    )
    assert (
        _row(
            "3",
            ads.day(2).isoformat(),
            "2",
            "1",
            "50.00%",
            "0",
            "¥0.40",
            "2",
            "¥37.00",
            "¥0.20",
            "92.50",
        )
        in page
    )
    assert (
        _row("4", ads.day(3).isoformat(), "1", "0", "0.00%", "0", "¥0.00", "0", "¥0.00", "—", "—")
        in page
    )
    assert (
        _row("total", "合计", "9", "3", "33.33%", "1", "¥0.83", "2", "¥37.00", "¥0.42", "44.58")
        in page
    )
    assert 'id="by-row-chart"' not in page


def test_default_range_by_group_and_a_plan(en: TestClient, ads: AdsWorld) -> None:
    page = _get(en, ads, "by=group")
    assert f'value="{ads.today}"' in page
    assert f'<input id="report-from" name="from" type="date" value="{ads.day(-2)}">' in page
    page = _get(en, ads, f"by=group&{_range(ads)}&plan={ads.breakfast}")
    assert (
        _row("1", "High", "2", "2", "100.00%", "0", "¥0.80", "1", "¥32.00", "¥0.80", "40.00")
        in page
    )
    assert _row("2", "Low", "2", "0", "0.00%", "1", "¥0.00", "0", "¥0.00", "—", "—") in page
    assert 'data-row="3"' not in page
    assert f'<option value="{ads.breakfast}" selected>Breakfast</option>' in page


def test_csv(en: TestClient, ads: AdsWorld) -> None:
    sign_in(en, ads.merchant.owner_email, ads.merchant.password)
    page = en.get(f"{PAGE}?by=plan&{_range(ads)}").text
    query = f"by=plan&amp;from={ads.day(1)}&amp;to={ads.day(2)}"
    assert f'<a href="{PAGE}.csv?{query}" id="report-csv">Export CSV</a>' in page
    r = en.get(f"{PAGE}.csv?by=plan&{_range(ads)}")
    assert r.status_code == 200
    assert r.text.splitlines()[1:] == [
        f"{ads.breakfast},,,,,Breakfast,4,2,1,80,5000,1,3200,80,400000",
        f"{ads.coupons},,,,,Coupons,3,1,0,1,3333,1,500,1,5000000",
        ",,,,,total,7,3,1,81,4286,2,3700,41,456790",
    ]


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("by=moon", 422, "Choose how to break the report down from the list."),
        ("from=2026-13-01", 422, "Enter the days as YYYY-MM-DD."),
        ("from=2026-02-01&to=2026-01-01", 422, "Choose at most 92 days, from a first day"),
        ("from=2026-01-01&to=2026-04-03", 422, "Choose at most 92 days, from a first day"),
        ("plan=abc", 422, "Choose one of your ad plans."),
        ("plan=%C2%B2", 422, "Choose one of your ad plans."),
        ("plan=theirs", 404, "Choose one of your ad plans."),
    ],
)
def test_a_bad_form_says_why(
    en: TestClient, ads: AdsWorld, query: str, status: int, text: str
) -> None:
    query = query.replace("theirs", str(ads.theirs))
    page = _get(en, ads, query, status=status)
    assert f'<p class="flash flash-error" id="report-error" role="alert">{text}' in page
    assert 'id="report-kpis"' not in page
    r = en.get(f"{PAGE}.csv?{query}")
    assert r.status_code == status and text in r.text


def test_another_merchant_sees_only_its_own(en: TestClient, ads: AdsWorld) -> None:
    sign_in(en, ads.other.owner_email, ads.other.password)
    page = en.get(f"{PAGE}?by=plan&{_range(ads)}").text
    assert _row("1", "Theirs", "1", "1", "100.00%", "0", "¥0.20", "0", "¥0.00", "—", "0.00") in page
    assert "Breakfast" not in page
    assert "<td>Coupons</td>" not in page and ">Coupons</option>" not in page
    creatives = en.get(f"{PAGE}?by=creative&{_range(ads)}").text
    assert "High ad" not in creatives and "Car ad" in creatives
    r = en.get(f"{PAGE}?plan={ads.breakfast}")
    assert r.status_code == 404


def test_signed_out_goes_to_sign_in(en: TestClient) -> None:
    r = en.get(PAGE, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/login")


def test_only_the_reports_entry_is_active_in_the_navigation(en: TestClient, ads: AdsWorld) -> None:
    active = re.compile(r'<a href="([^"]+)" aria-current="page" class="active">')
    assert active.findall(_get(en, ads, "")) == [PAGE]
    assert active.findall(en.get("/console/merchant/promotion").text) == [
        "/console/merchant/promotion"
    ]
