"""Serving through the API: prepay, decide, record the impression, click, attribute.

Two CPC groups of one shop bid 60 and 40 fen on the home feed with the same (prior) pCTR:
the first pays the second's 40 fen, the second the 20-fen reserve. Tokens are verified,
recorded once, and bound to the consumer they were issued to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.time import utcnow
from ccare.orders.schemas import OrderPaid
from ccare.promotion import tasks
from ccare.promotion.models import AdClick, AdConversion
from tests import factories as f


def _creative(client: TestClient, h: dict[str, str], group_id: int, mp: int, title: str) -> int:
    r = client.post(
        "/api/v1/ad-creatives",
        json={"group_id": group_id, "title": title, "mini_program_id": mp, "page": "pages/menu"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture
def market(client: TestClient, db: Database) -> dict[str, Any]:
    m = f.make_merchant(db)
    h = f.login(client, m.owner_email, m.password)
    op = f.make_operator(db)
    operator = f.login(client, op.email, op.password)
    mp = f.make_mini_program(db, m.merchant_id)
    plan = client.post(
        "/api/v1/ad-plans",
        json={
            "out_request_no": "p1",
            "name": "Breakfast",
            "objective": "transactions",
            "daily_budget_fen": 2_000,
        },
        headers=h,
    ).json()
    groups, creatives = [], []
    for name, bid in (("High", 60), ("Low", 40)):
        g = client.post(
            "/api/v1/ad-groups",
            json={
                "plan_id": plan["id"],
                "name": name,
                "bid_fen": bid,
                "targeting": {"placements": ["home_feed"]},
            },
            headers=h,
        ).json()
        cid = _creative(client, h, g["id"], mp, f"{name} 早餐")
        r = client.post(
            f"/api/v1/ad-creatives/{cid}/review", json={"decision": "approved"}, headers=operator
        )
        assert r.status_code == 200, r.text
        groups.append(g["id"])
        creatives.append(cid)
    top_up = client.post(
        "/api/v1/ad-account/top-ups",
        json={"merchant_id": m.merchant_id, "amount_fen": 10_000, "source": "bank_transfer"},
        headers={**operator, "Idempotency-Key": "fund-1"},
    )
    assert top_up.status_code == 201, top_up.text
    consumer = f.make_consumer(db, city="Hangzhou")
    return {
        "merchant_id": m.merchant_id,
        "h": h,
        "operator": operator,
        "plan_id": plan["id"],
        "groups": groups,
        "creatives": creatives,
        "mp": mp,
        "consumer": consumer,
        "ch": f.consumer_login(client, consumer),
    }


def _decide(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    r = client.post(
        "/api/v1/ad-decisions", json={"placement": "home_feed", **body}, headers=headers
    )
    assert r.status_code == 200, r.text
    return r.json()


def _backdate_impressions(db: Database, seconds: int) -> None:
    with db.transaction() as s:
        s.execute(
            text("UPDATE ad_impressions SET created_at = :t"),
            {"t": utcnow() - timedelta(seconds=seconds)},
        )


def _balance(client: TestClient, market: dict[str, Any]) -> int:
    r = client.get(f"/api/v1/ad-account?merchant_id={market['merchant_id']}", headers=market["h"])
    assert r.status_code == 200, r.text
    return int(r.json()["balance_fen"])


def test_decide_show_click_and_pay_the_second_price(
    client: TestClient, db: Database, market: dict[str, Any]
) -> None:
    assert _balance(client, market) == 10_000
    decision = _decide(client, market["ch"])
    ads = decision["ads"]
    assert [(a["slot"], a["creative_id"], a["kind"]) for a in ads] == [
        (1, market["creatives"][0], "auction"),
        (2, market["creatives"][1], "auction"),
    ]
    assert ads[0]["landing"] == {"mini_program_id": market["mp"], "page": "pages/menu"}

    shown = client.post(
        "/api/v1/ad-events/impressions",
        json={"token": ads[0]["impression_token"]},
        headers=market["ch"],
    )
    assert shown.status_code == 201, shown.text
    assert shown.json()["charged_millifen"] == 0  # CPC: the click is what costs
    again = client.post(
        "/api/v1/ad-events/impressions",
        json={"token": ads[0]["impression_token"]},
        headers=market["ch"],
    )
    assert (again.status_code, again.json()["code"]) == (409, "promotion.token_replayed")

    _backdate_impressions(db, 10)
    clicked = client.post(
        "/api/v1/ad-events/clicks", json={"token": ads[0]["click_token"]}, headers=market["ch"]
    )
    assert clicked.status_code == 201, clicked.text
    body = clicked.json()
    assert (body["status"], body["reason"], body["charged_millifen"]) == ("billed", None, 40_000)
    assert body["landing"] == {"mini_program_id": market["mp"], "page": "pages/menu"}
    assert _balance(client, market) == 10_000 - 40

    twice = client.post(
        "/api/v1/ad-events/clicks", json={"token": ads[0]["click_token"]}, headers=market["ch"]
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "promotion.token_replayed")
    unseen = client.post(
        "/api/v1/ad-events/clicks", json={"token": ads[1]["click_token"]}, headers=market["ch"]
    )
    assert (unseen.status_code, unseen.json()["code"]) == (
        409,
        "promotion.click_without_impression",
    )
    assert _balance(client, market) == 9_960
    with db.transaction() as s:
        types = list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id)))
    assert types.count("ad.impression") == 1
    assert types.count("ad.click") == 1
    assert types.count("promotion.charged") == 1


def test_a_click_faster_than_a_person_is_recorded_and_not_charged(
    client: TestClient, market: dict[str, Any]
) -> None:
    ads = _decide(client, market["ch"])["ads"]
    client.post(
        "/api/v1/ad-events/impressions",
        json={"token": ads[1]["impression_token"]},
        headers=market["ch"],
    )
    r = client.post(
        "/api/v1/ad-events/clicks", json={"token": ads[1]["click_token"]}, headers=market["ch"]
    )
    assert r.status_code == 201
    assert (r.json()["status"], r.json()["reason"], r.json()["charged_millifen"]) == (
        "invalid",
        "too_fast",
        0,
    )
    assert _balance(client, market) == 10_000


def test_forged_foreign_and_anonymous_tokens(
    client: TestClient, db: Database, market: dict[str, Any]
) -> None:
    ads = _decide(client, market["ch"])["ads"]
    token = ads[0]["impression_token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = client.post("/api/v1/ad-events/impressions", json={"token": forged}, headers=market["ch"])
    assert (r.status_code, r.json()["code"]) == (422, "promotion.token_invalid")
    as_click = client.post("/api/v1/ad-events/clicks", json={"token": token}, headers=market["ch"])
    assert (as_click.status_code, as_click.json()["code"]) == (422, "promotion.token_invalid")
    someone = f.consumer_login(client, f.make_consumer(db))
    r = client.post("/api/v1/ad-events/impressions", json={"token": token}, headers=someone)
    assert (r.status_code, r.json()["code"]) == (403, "promotion.token_not_yours")
    nobody = client.post("/api/v1/ad-events/impressions", json={"token": token})
    assert (nobody.status_code, nobody.json()["code"]) == (403, "promotion.token_not_yours")

    anonymous = _decide(client, {})
    assert len(anonymous["ads"]) == 2
    r = client.post(
        "/api/v1/ad-events/impressions", json={"token": anonymous["ads"][0]["impression_token"]}
    )
    assert r.status_code == 201
    unknown = client.post("/api/v1/ad-decisions", json={"placement": "moon"})
    assert (unknown.status_code, unknown.json()["code"]) == (422, "promotion.placement_unknown")
    with db.transaction() as s:
        assert s.scalar(text("SELECT count(*) FROM ad_impressions")) == 1


def _billed_click(client: TestClient, db: Database, market: dict[str, Any]) -> int:
    ads = _decide(client, market["ch"])["ads"]
    client.post(
        "/api/v1/ad-events/impressions",
        json={"token": ads[0]["impression_token"]},
        headers=market["ch"],
    )
    _backdate_impressions(db, 5)
    r = client.post(
        "/api/v1/ad-events/clicks", json={"token": ads[0]["click_token"]}, headers=market["ch"]
    )
    assert r.json()["status"] == "billed"
    return int(r.json()["click_id"])


def test_a_paid_order_goes_to_the_last_click_once(
    client: TestClient, db: Database, market: dict[str, Any]
) -> None:
    click_id = _billed_click(client, db, market)
    paid = OrderPaid(
        merchant_id=market["merchant_id"],
        consumer_id=market["consumer"],
        order_id=77,
        trade_no="T77",
        mini_program_id=market["mp"],
        items=[],
        amount=3_200,
        platform_fee_fen=19,
    )
    other_shop = paid.model_copy(
        update={"merchant_id": market["merchant_id"] + 1000, "order_id": 78}
    )
    for event in (paid, paid, other_shop):
        with db.transaction() as s:
            tasks.attribute_order(s, event)
    with db.transaction() as s:
        rows = list(s.scalars(select(AdConversion)))
        assert [
            (r.click_id, r.out_conversion_no, r.source.value, r.value_fen, r.plan_id, r.group_id)
            for r in rows
        ] == [(click_id, "order:77", "order", 3_200, market["plan_id"], market["groups"][0])]


def test_advertisers_upload_conversions_on_their_own_clicks(
    client: TestClient, db: Database, market: dict[str, Any]
) -> None:
    click_id = _billed_click(client, db, market)
    body = {
        "click_id": click_id,
        "out_conversion_no": "lead-1",
        "kind": "lead",
        "value_fen": 0,
        "occurred_at": (utcnow() + timedelta(seconds=1)).isoformat(),
    }
    first = client.post("/api/v1/ad-conversions", json=body, headers=market["h"])
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/ad-conversions", json=body, headers=market["h"])
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    changed = client.post(
        "/api/v1/ad-conversions", json={**body, "value_fen": 5}, headers=market["h"]
    )
    assert (changed.status_code, changed.json()["code"]) == (409, "promotion.request_conflict")
    early = {
        **body,
        "out_conversion_no": "lead-2",
        "occurred_at": (utcnow() - timedelta(days=1)).isoformat(),
    }
    r = client.post("/api/v1/ad-conversions", json=early, headers=market["h"])
    assert (r.status_code, r.json()["code"]) == (422, "promotion.conversion_outside_window")
    other = f.make_merchant(db, name="Other")
    oh = f.login(client, other.owner_email, other.password)
    stolen = client.post(
        "/api/v1/ad-conversions", json={**body, "out_conversion_no": "x"}, headers=oh
    )
    assert (stolen.status_code, stolen.json()["code"]) == (404, "promotion.click_not_found")
    with db.transaction() as s:
        assert s.scalar(select(AdClick.status).where(AdClick.id == click_id)) == "billed"
        assert len(list(s.scalars(select(AdConversion)))) == 1


def test_top_ups_come_from_sales_or_an_operator(client: TestClient, market: dict[str, Any]) -> None:
    h = {**market["h"], "Idempotency-Key": "t-1"}
    bank = client.post(
        "/api/v1/ad-account/top-ups", json={"amount_fen": 100, "source": "bank_transfer"}, headers=h
    )
    assert (bank.status_code, bank.json()["code"]) == (403, "promotion.operator_only")
    sales = client.post(
        "/api/v1/ad-account/top-ups",
        json={"amount_fen": 100, "source": "settlement"},
        headers={**market["h"], "Idempotency-Key": "t-2"},
    )
    assert (sales.status_code, sales.json()["code"]) == (409, "wallet.insufficient_funds")
    assert _balance(client, market) == 10_000
    replay = client.post(
        "/api/v1/ad-account/top-ups",
        json={
            "merchant_id": market["merchant_id"],
            "amount_fen": 10_000,
            "source": "bank_transfer",
        },
        headers={**market["operator"], "Idempotency-Key": "fund-1"},
    )
    assert replay.status_code == 201
    assert _balance(client, market) == 10_000


def test_cpm_bids_are_per_mille_against_click_bids(
    client: TestClient, market: dict[str, Any]
) -> None:
    """CPM groups bidding 2,400 and 1,600 fen per 1,000 impressions (2.4 and 1.6 fen an
    impression) rank above the 60-fen click bid at the prior pCTR of 2% (1.2 fen an
    impression); each pays, per impression, the next one's value: 1.6 and 1.2 fen."""
    h = market["h"]
    plan = client.post(
        "/api/v1/ad-plans",
        json={
            "out_request_no": "p-cpm",
            "name": "Brand",
            "objective": "brand",
            "charge_type": "cpm",
            "daily_budget_fen": 2_000,
        },
        headers=h,
    ).json()
    for name, bid in (("Wide", 2_400), ("Narrow", 1_600)):
        g = client.post(
            "/api/v1/ad-groups",
            json={
                "plan_id": plan["id"],
                "name": name,
                "bid_fen": bid,
                "targeting": {"placements": ["home_feed"]},
            },
            headers=h,
        ).json()
        cid = _creative(client, h, g["id"], market["mp"], name)
        r = client.post(
            f"/api/v1/ad-creatives/{cid}/review",
            json={"decision": "approved"},
            headers=market["operator"],
        )
        assert r.status_code == 200, r.text

    ads = _decide(client, market["ch"])["ads"]
    assert [a["title"] for a in ads] == ["Wide", "Narrow", "High 早餐"]
    charged = [
        client.post(
            "/api/v1/ad-events/impressions",
            json={"token": a["impression_token"]},
            headers=market["ch"],
        ).json()["charged_millifen"]
        for a in ads
    ]
    assert charged == [1_600, 1_200, 0]  # the click ad is charged on its click
