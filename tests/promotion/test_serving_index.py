"""The serving index: candidates come from postings (placement × city, segments, search
words), and every other targeting condition, budget and balance is a mask over them."""

from __future__ import annotations

from datetime import date

import numpy as np

from ccare.promotion.serving import Context, ServingAd, ServingCreative, ServingIndex

DAY = date(2026, 11, 25)  # a Wednesday
WED_NOON = 2 * 24 + 12
ALL_HOURS = "1" * 168
ALWAYS = None  # pacing draws of 0: every plan takes part


def ad(group_id: int, **kw: object) -> ServingAd:
    fields: dict[str, object] = {
        "group_id": group_id,
        "plan_id": kw.pop("plan_id", group_id),
        "merchant_id": kw.pop("merchant_id", 1),
        "per_click": True,
        "bid_type": "manual",
        "bid_fen": 50,
        "target_cpa_fen": None,
        "target_roi_bp": None,
        "placements": ("home_feed",),
        "creatives": (ServingCreative(group_id * 10, "早餐", "", 1, "pages/index", None),),
        "hours": ALL_HOURS,
        "daily_budget_fen": 10_000,
    }
    fields.update(kw)
    return ServingAd(**fields)  # type: ignore[arg-type]


def index(*ads: ServingAd, balances: dict[int, int] | None = None, **kw: object) -> ServingIndex:
    merchants = {a.merchant_id for a in ads}
    return ServingIndex(
        ads,
        day=DAY,
        balances=balances or dict.fromkeys(merchants, 10_000),
        **kw,  # type: ignore[arg-type]
    )


def ctx(**kw: object) -> Context:
    fields: dict[str, object] = {"placement": "home_feed", "hour_of_week": WED_NOON, "slot": 144}
    fields.update(kw)
    return Context(**fields)  # type: ignore[arg-type]


def groups(ix: ServingIndex, c: Context) -> list[int]:
    found, _ = ix._retrieve(c)
    return sorted(cand.ad.group_id for cand in ix.candidates(c, np.zeros(len(found))))


def test_cities_levels_and_placements() -> None:
    ix = index(
        ad(1),
        ad(2, cities=frozenset({"Hangzhou"})),
        ad(3, cities=frozenset({"Beijing"})),
        ad(4, member_levels=frozenset({"gold", "diamond"})),
        ad(5, placements=("car_life",)),
    )
    assert groups(ix, ctx(city="Hangzhou", member_level="public")) == [1, 2]
    assert groups(ix, ctx(city="Beijing", member_level="gold")) == [1, 3, 4]
    assert groups(ix, ctx()) == [1]
    assert groups(ix, ctx(placement="car_life")) == [5]


def test_segments_in_and_out() -> None:
    ix = index(
        ad(1, segments_include=frozenset({7})),
        ad(2, segments_include=frozenset({7}), cities=frozenset({"Beijing"})),
        ad(3, segments_exclude=frozenset({8})),
    )
    assert groups(ix, ctx(city="Hangzhou")) == [3]
    assert groups(ix, ctx(city="Hangzhou", segments=frozenset({7}))) == [1, 3]
    assert groups(ix, ctx(city="Beijing", segments=frozenset({7, 8}))) == [1, 2]


def test_hours_caps_converted_users_budgets_and_balances() -> None:
    mornings = ("1" * 12 + "0" * 12) * 7
    ix = index(
        ad(1, hours=mornings),
        ad(2, frequency_per_day=2),
        ad(3, exclude_converted=True),
        ad(4, merchant_id=9),
        ad(5, plan_id=50),
        ad(6, plan_id=60, total_budget_fen=1_000),
        balances={1: 10_000, 9: 0},
        spent_total={60: 1_000_000},
    )
    assert groups(ix, ctx()) == [2, 3, 5]
    assert groups(ix, ctx(hour_of_week=2 * 24 + 9, slot=9 * 12)) == [1, 2, 3, 5]
    seen = ctx(impressions_today={2: 2, 5: 9}, converted_plans=frozenset({3}))
    assert groups(ix, seen) == [5]
    ix.note_spend(50, 1, 10_000_000, 10_000)  # the plan's daily budget and the balance
    assert groups(ix, ctx()) == []


def test_pacing_draws_decide_who_takes_part() -> None:
    ix = index(ad(1), ad(2))
    c = ctx()
    ix.pacing.p[:] = [0.3, 0.6]
    ix.pacing.slot = c.slot
    found = [cand.ad.group_id for cand in ix.candidates(c, np.array([0.5, 0.5]))]
    assert found == [2]


def test_a_request_looks_only_at_its_postings() -> None:
    ads = [ad(i, cities=frozenset({f"city{i % 100}"})) for i in range(1, 5_001)]
    ix = index(*ads, ad(9_999))
    found, _ = ix._retrieve(ctx(city="city7"))
    assert len(found) == 51  # 50 groups of city7 and the one without cities


def test_search_words_match_by_segmentation() -> None:
    ix = index(
        ad(1, placements=("search_results",), search_words=("早餐",)),
        ad(2, placements=("search_results",), search_words=("火锅",)),
        ad(3),
    )
    c = ctx(placement="search_results", query="附近的早餐店")
    found, why = ix._retrieve(c)
    assert [ix.ads[int(i)].group_id for i in found] == [1]
    assert why[int(found[0])][0] == "早餐"
    assert groups(ix, ctx(placement="search_results", query="奶茶")) == []


def test_shortlist_keeps_the_best_cached_ecpm() -> None:
    ix = index(
        ad(1, bid_fen=30),
        ad(2, bid_fen=90),
        ad(3, bid_fen=60),
        ad(4, per_click=False, bid_fen=2_000),  # 20 yuan per mille = 2,000 per impression
        ctr_prior={1: 0.02, 2: 0.02, 3: 0.05},
    )
    c = ctx()
    found, _ = ix._retrieve(c)
    chosen, why = ix.eligible(c, np.zeros(len(found)))
    short = ix.shortlist(chosen, why, 2)
    # eCPM: 1 → 600, 2 → 1,800, 3 → 3,000, 4 → 2,000
    assert sorted(x.ad.group_id for x in short) == [3, 4]
