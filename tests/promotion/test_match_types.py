"""Search words carry their match type: exact (the query is the word), phrase (the word's
tokens in order within the query) and broad (all its tokens, any order); a plain word is
broad. The console writes them as advertisers do: [word], "word", word."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.promotion.console_texts import search_word
from tests import factories as f
from tests.promotion.test_brand_terms import search_group, served


def test_exact_phrase_and_broad_words_answer_their_own_queries(db: Database) -> None:
    exact = search_group(
        db, f.make_merchant(db).merchant_id, [{"word": "火锅 外卖", "match": "exact"}], bid_fen=300
    )
    phrase = search_group(
        db, f.make_merchant(db).merchant_id, [{"word": "火锅 外卖", "match": "phrase"}], bid_fen=200
    )
    broad = search_group(db, f.make_merchant(db).merchant_id, ["火锅 外卖"], bid_fen=100)
    assert served(db, "火锅外卖") == [exact, phrase]  # two slots: the two best
    assert served(db, "重庆火锅外卖") == [phrase, broad]
    assert served(db, "外卖 火锅") == [broad]
    assert served(db, "火锅") == []


def test_a_match_type_must_be_one_of_the_three(client: TestClient, db: Database) -> None:
    m = f.make_merchant(db)
    h = f.login(client, m.owner_email, m.password)
    plan = client.post(
        "/api/v1/ad-plans",
        json={
            "out_request_no": "p",
            "name": "S",
            "objective": "transactions",
            "daily_budget_fen": 20_000,
        },
        headers=h,
    ).json()
    body: dict[str, Any] = {
        "plan_id": plan["id"],
        "name": "Words",
        "bid_fen": 100,
        "targeting": {
            "placements": ["search_results"],
            "search_words": [{"word": "火锅", "match": "fuzzy"}],
        },
    }
    r = client.post("/api/v1/ad-groups", json=body, headers=h)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    body["targeting"]["search_words"] = [{"word": "火锅", "match": "exact"}, "外卖"]
    r = client.post("/api/v1/ad-groups", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["targeting"]["search_words"] == [{"word": "火锅", "match": "exact"}, "外卖"]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("[火锅]", {"word": "火锅", "match": "exact"}),
        ('"火锅 外卖"', {"word": "火锅 外卖", "match": "phrase"}),
        ("“火锅”", {"word": "火锅", "match": "phrase"}),
        ("火锅", "火锅"),
        ("[]", "[]"),
    ],
)
def test_the_console_notation(written: str, stored: object) -> None:
    assert search_word(written) == stored
