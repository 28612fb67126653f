"""Brand direct-zone terms (品牌专区): only the operator reserves a term, for one brand; no
other advertiser can buy a keyword it covers; a search it covers shows only the brand's
ads; a released term is open to everyone again."""

from __future__ import annotations

import random
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.promotion import decisions
from ccare.promotion import service as promotion
from ccare.promotion.models import AdGroup
from ccare.promotion.schemas import CreativeCreate, GroupCreate, PlanCreate, ReviewRequest
from tests import factories as f
from tests.brand_bookings.conftest import fund

TERMS = "/api/v1/ad-reserved-terms"


@pytest.fixture
def brands(client: TestClient, db: Database) -> dict[str, Any]:
    kfc = f.make_merchant(db, name="KFC")
    rival = f.make_merchant(db, name="Rival")
    op = f.make_operator(db)
    return {
        "kfc": kfc.merchant_id,
        "rival": rival.merchant_id,
        "op": f.login(client, op.email, op.password),
        "rival_h": f.login(client, rival.owner_email, rival.password),
        "kfc_h": f.login(client, kfc.owner_email, kfc.password),
    }


def search_group(db: Database, merchant_id: int, words: list[Any], bid_fen: int = 200) -> int:
    """An approved, funded CPC group on search results bidding `bid_fen` on `words`."""
    mp = f.make_mini_program(db, merchant_id)
    op = f.FACTORY_OPERATOR
    with db.transaction() as s:
        plan, _ = promotion.create_plan(
            s,
            op,
            PlanCreate(
                merchant_id=merchant_id,
                out_request_no=f"search-{mp}",
                name="Search",
                objective="transactions",  # type: ignore[arg-type]
                daily_budget_fen=100_000,
            ),
        )
        group = promotion.create_group(
            s,
            op,
            GroupCreate(
                plan_id=plan.id,
                name="Words",
                bid_fen=bid_fen,
                targeting={"placements": ["search_results"], "search_words": words},  # type: ignore[arg-type]
            ),
        )
        creative = promotion.create_creative(
            s, op, CreativeCreate(group_id=group.id, title="炸鸡", mini_program_id=mp, page="p")
        )
        promotion.review_creative(s, op, creative.id, ReviewRequest(decision="approved"))
        group_id = group.id
    fund(db, merchant_id, 100_000)
    return group_id


def served(db: Database, query: str) -> list[int | None]:
    with db.transaction() as s:
        decision = decisions.decide(
            s, "k", placement="search_results", query=query, rng=random.Random(3)
        )
    return [a.group_id for a in decision.ads if a.group_id is not None]


def test_only_the_operator_reserves_a_term_once_for_one_brand(
    client: TestClient, brands: dict[str, Any]
) -> None:
    body = {"term": " 肯德基 ", "merchant_id": brands["kfc"]}
    first = client.post(TERMS, json=body, headers=brands["op"])
    assert first.status_code == 201
    out = first.json()
    assert (out["term"], out["merchant_id"]) == ("肯德基", brands["kfc"])
    again = client.post(TERMS, json=body, headers=brands["op"])
    assert (again.status_code, again.json()["id"]) == (200, out["id"])
    taken = client.post(
        TERMS, json={"term": "肯德基", "merchant_id": brands["rival"]}, headers=brands["op"]
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "promotion.reserved_term_taken")
    by_merchant = client.post(TERMS, json=body, headers=brands["kfc_h"])
    assert (by_merchant.status_code, by_merchant.json()["code"]) == (
        403,
        "auth.operator_only",
    )
    unknown = client.post(
        TERMS, json={"term": "麦当劳", "merchant_id": 999_999}, headers=brands["op"]
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "merchant.not_found")
    empty = client.post(
        TERMS, json={"term": "!!!", "merchant_id": brands["kfc"]}, headers=brands["op"]
    )
    assert (empty.status_code, empty.json()["code"]) == (422, "promotion.keyword_invalid")
    listed = client.get(TERMS, headers=brands["op"]).json()
    assert [(t["term"], t["merchant_id"]) for t in listed] == [("肯德基", brands["kfc"])]
    assert client.get(TERMS, headers=brands["kfc_h"]).status_code == 403


def test_another_advertiser_cannot_buy_a_covered_keyword(
    client: TestClient, db: Database, brands: dict[str, Any]
) -> None:
    client.post(TERMS, json={"term": "肯德基", "merchant_id": brands["kfc"]}, headers=brands["op"])
    plan = client.post(
        "/api/v1/ad-plans",
        json={
            "out_request_no": "p",
            "name": "Search",
            "objective": "transactions",
            "daily_budget_fen": 20_000,
        },
        headers=brands["rival_h"],
    ).json()
    body = {
        "plan_id": plan["id"],
        "name": "Words",
        "bid_fen": 100,
        "targeting": {"placements": ["search_results"], "search_words": ["炸鸡", "肯德基早餐"]},
    }
    refused = client.post("/api/v1/ad-groups", json=body, headers=brands["rival_h"])
    assert (refused.status_code, refused.json()["code"]) == (403, "promotion.keyword_reserved")
    assert refused.json()["details"]["term"] == "肯德基"
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(AdGroup)) == 0
    body["targeting"] = {"placements": ["search_results"], "search_words": ["炸鸡"]}
    assert client.post("/api/v1/ad-groups", json=body, headers=brands["rival_h"]).status_code == 201


def test_a_covered_search_shows_only_the_brand_until_the_term_is_released(
    client: TestClient, db: Database, brands: dict[str, Any]
) -> None:
    rival = search_group(db, brands["rival"], ["肯德基", "炸鸡"])  # bought before the term
    kfc = search_group(db, brands["kfc"], ["肯德基", "炸鸡"])
    assert sorted(served(db, "肯德基")) == sorted([rival, kfc])
    term = client.post(
        TERMS, json={"term": "肯德基", "merchant_id": brands["kfc"]}, headers=brands["op"]
    ).json()
    assert served(db, "肯德基") == [kfc]
    assert served(db, "肯德基 早餐") == [kfc]
    assert sorted(served(db, "炸鸡")) == sorted([rival, kfc])
    gone = client.delete(f"{TERMS}/{term['id']}", headers=brands["op"])
    assert gone.status_code == 204
    assert sorted(served(db, "肯德基")) == sorted([rival, kfc])
    again = client.delete(f"{TERMS}/{term['id']}", headers=brands["op"])
    assert (again.status_code, again.json()["code"]) == (404, "promotion.reserved_term_not_found")
