from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccare.coupons.antifraud import (
    RULES,
    THRESHOLDS,
    ClaimFeatures,
    Outcome,
    Reason,
    Strictness,
    decide,
    rule_table,
)
from ccare.coupons.scalper_world import (
    GENUINE,
    Scenario,
    World,
    evaluate,
    generate,
    km_between,
    replay,
)

CLEAN = ClaimFeatures(account_age_days=400.0)
OFF, LENIENT, STANDARD, STRICT = Strictness
PASS, CHALLENGE, REJECT = Outcome


def hits(features: ClaimFeatures) -> list[tuple[str, int]]:
    return [(r.code, r.weight) for r in decide(features, STANDARD).reasons]


def test_a_clean_claim_passes_with_no_reasons() -> None:
    decision = decide(CLEAN, STRICT)
    assert (decision.outcome, decision.score, decision.reasons) == (PASS, 0, ())


# --- each rule's edges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [(1, []), (2, []), (3, 10), (4, 10), (5, 25), (9, 25), (10, 40), (60, 40)],
)
def test_device_shared(accounts: int, expected: int | list[object]) -> None:
    want = [] if expected == [] else [("risk.device_shared", expected)]
    assert hits(replace(CLEAN, accounts_on_device=accounts)) == want


@pytest.mark.parametrize(
    ("days", "expected"),
    [(30.0, None), (29.99, 5), (7.0, 5), (6.99, 15), (1.0, 15), (0.99, 25), (0.0, 25)],
)
def test_new_account(days: float, expected: int | None) -> None:
    want = [] if expected is None else [("risk.new_account", expected)]
    assert hits(replace(CLEAN, account_age_days=days)) == want


@pytest.mark.parametrize(
    ("claims", "expected"),
    [(0, None), (9, None), (10, 10), (29, 10), (30, 20), (99, 20), (100, 30), (5000, 30)],
)
def test_ip_velocity(claims: int, expected: int | None) -> None:
    want = [] if expected is None else [("risk.ip_velocity", expected)]
    assert hits(replace(CLEAN, claims_from_ip_last_hour=claims)) == want


@pytest.mark.parametrize(
    ("km", "minutes", "expected"),
    [
        (100.0, 15.0, None),  # exactly 400 km/h: a fast train, not yet suspicious
        (100.0, 14.9, 15),
        (99.9, 0.0, None),  # under 100 km: the error of locating an IP
        (1000.0, 60.0, 15),  # exactly 1000 km/h
        (1000.0, 59.9, 25),
        (100.0, 0.0, 25),  # the same minute counts as one minute: 6000 km/h
        (1200.0, 240.0, None),  # a flight door to door: 300 km/h
        (None, 5.0, None),
        (500.0, None, None),
    ],
)
def test_geo_velocity(km: float | None, minutes: float | None, expected: int | None) -> None:
    features = replace(CLEAN, km_from_last_claim=km, minutes_since_last_claim=minutes)
    want = [] if expected is None else [("risk.geo_velocity", expected)]
    assert hits(features) == want


@pytest.mark.parametrize(
    ("cities", "expected"), [(1, None), (2, None), (3, 10), (4, 10), (5, 20), (12, 20)]
)
def test_city_hopping(cities: int, expected: int | None) -> None:
    want = [] if expected is None else [("risk.city_hopping", expected)]
    assert hits(replace(CLEAN, distinct_cities_last_day=cities)) == want


@pytest.mark.parametrize(
    ("claims", "uses", "expected"),
    [
        (4, 0, None),  # too few claims to say anything
        (5, 0, 25),
        (5, 1, 15),  # 80% unused
        (5, 2, None),  # 60%
        (20, 1, 25),  # 95%
        (20, 2, 15),  # 90%
        (100, 5, 25),
        (100, 6, 15),  # 94%
        (100, 20, 15),  # 80%
        (100, 21, None),  # 79%
        (5, 9, None),  # more uses than claims (coupons claimed before the window)
    ],
)
def test_claim_without_use(claims: int, uses: int, expected: int | None) -> None:
    features = replace(CLEAN, claims_last_30d=claims, uses_last_30d=uses)
    want = [] if expected is None else [("risk.claim_without_use", expected)]
    assert hits(features) == want


@pytest.mark.parametrize(
    ("claimers", "expected"),
    [(0, None), (4, None), (5, 20), (9, 20), (10, 35), (24, 35), (25, 45), (400, 45)],
)
def test_feeds_redeemer(claimers: int, expected: int | None) -> None:
    want = [] if expected is None else [("risk.feeds_redeemer", expected)]
    assert hits(replace(CLEAN, feeds_redeemer=claimers)) == want


def test_no_real_name() -> None:
    assert hits(replace(CLEAN, has_real_name=False)) == [("risk.no_real_name", 10)]


@pytest.mark.parametrize(
    "flags",
    [
        {"device_blacklisted": True},
        {"account_blacklisted": True},
        {"ip_blacklisted": True},
        {"device_blacklisted": True, "account_blacklisted": True, "ip_blacklisted": True},
    ],
)
def test_any_blacklist_counts_once(flags: dict[str, bool]) -> None:
    assert hits(replace(CLEAN, **flags)) == [("risk.blacklisted", 50)]


def test_details_name_the_measure_and_the_threshold_crossed() -> None:
    features = replace(
        CLEAN,
        accounts_on_device=12,
        account_age_days=0.5,
        km_from_last_claim=165.0,
        minutes_since_last_claim=3.0,
        claims_last_30d=20,
        uses_last_30d=1,
        has_real_name=False,
    )
    assert decide(features, STANDARD).reasons == (
        Reason("risk.device_shared", 40, "accounts_on_device = 12 accounts (>= 10)"),
        Reason("risk.new_account", 25, "account_age_days = 0.5 days (< 1)"),
        Reason("risk.geo_velocity", 25, "travel_km_per_hour = 3300 km/h (> 1000)"),
        Reason("risk.claim_without_use", 25, "unused_percent = 95 % (>= 95)"),
        Reason("risk.no_real_name", 10, "without_real_name = 1 (>= 1)"),
    )


# --- scores and outcomes ---------------------------------------------------------------------


def scored(score: int) -> ClaimFeatures:
    """Features whose score is exactly `score`, from the table's weights."""
    parts: dict[int, dict[str, Any]] = {
        20: dict(feeds_redeemer=5),
        25: dict(account_age_days=0.5),
        35: dict(feeds_redeemer=10),
        40: dict(accounts_on_device=10),
        45: dict(feeds_redeemer=25),
        50: dict(accounts_on_device=10, has_real_name=False),
        55: dict(feeds_redeemer=25, has_real_name=False),
        60: dict(accounts_on_device=10, feeds_redeemer=5),
        65: dict(feeds_redeemer=25, distinct_cities_last_day=5),
        70: dict(feeds_redeemer=25, account_age_days=0.5),
        85: dict(accounts_on_device=10, feeds_redeemer=25),
        90: dict(accounts_on_device=10, feeds_redeemer=25, account_age_days=29.0),
    }
    features = replace(CLEAN, **parts[score])
    assert decide(features, OFF).score == score
    return features


@pytest.mark.parametrize(
    ("score", "lenient", "standard", "strict"),
    [
        (20, PASS, PASS, PASS),
        (25, PASS, PASS, CHALLENGE),
        (35, PASS, PASS, CHALLENGE),
        (40, PASS, CHALLENGE, CHALLENGE),
        (45, PASS, CHALLENGE, CHALLENGE),
        (50, PASS, CHALLENGE, REJECT),
        (55, PASS, CHALLENGE, REJECT),
        (60, CHALLENGE, CHALLENGE, REJECT),
        (65, CHALLENGE, CHALLENGE, REJECT),
        (70, CHALLENGE, REJECT, REJECT),
        (85, CHALLENGE, REJECT, REJECT),
        (90, REJECT, REJECT, REJECT),
    ],
)
def test_thresholds_per_strictness(
    score: int, lenient: Outcome, standard: Outcome, strict: Outcome
) -> None:
    features = scored(score)
    assert [decide(features, s).outcome for s in (OFF, LENIENT, STANDARD, STRICT)] == [
        PASS,
        lenient,
        standard,
        strict,
    ]


def test_threshold_table() -> None:
    assert THRESHOLDS[OFF] is None
    assert [
        (t.challenge, t.reject) for s in (LENIENT, STANDARD, STRICT) if (t := THRESHOLDS[s])
    ] == [
        (60, 90),
        (40, 70),
        (25, 50),
    ]


@pytest.mark.parametrize(
    ("strictness", "outcome"),
    [(OFF, PASS), (LENIENT, REJECT), (STANDARD, REJECT), (STRICT, REJECT)],
)
def test_a_blacklist_hit_rejects_unless_off(strictness: Strictness, outcome: Outcome) -> None:
    decision = decide(replace(CLEAN, ip_blacklisted=True), strictness)
    assert (decision.outcome, decision.score, decision.blacklisted) == (outcome, 50, True)


def test_off_passes_everything_but_still_scores_it() -> None:
    worst = ClaimFeatures(
        account_age_days=0.0,
        accounts_on_device=50,
        claims_from_ip_last_hour=500,
        distinct_cities_last_day=9,
        km_from_last_claim=2000.0,
        minutes_since_last_claim=1.0,
        claims_last_30d=50,
        uses_last_30d=0,
        feeds_redeemer=100,
        device_blacklisted=True,
        account_blacklisted=True,
        ip_blacklisted=True,
        has_real_name=False,
    )
    decision = decide(worst, OFF)
    assert (decision.outcome, decision.score, decision.raw_score) == (PASS, 100, 270)
    assert [r.code for r in decision.reasons] == [rule.code for rule in RULES]
    assert decide(worst, LENIENT).outcome is REJECT


def test_score_is_capped_at_100() -> None:
    features = replace(CLEAN, accounts_on_device=10, feeds_redeemer=25, account_age_days=0.1)
    decision = decide(features, STANDARD)
    assert (decision.raw_score, decision.score) == (110, 100)


def test_explanation_is_what_gets_stored() -> None:
    features = replace(CLEAN, accounts_on_device=3, has_real_name=False)
    assert decide(features, STANDARD).explanation() == {
        "rules_version": 1,
        "outcome": "pass",
        "score": 20,
        "raw_score": 20,
        "strictness": "standard",
        "thresholds": {"challenge": 40, "reject": 70},
        "blacklisted": False,
        "reasons": [
            {
                "code": "risk.device_shared",
                "weight": 10,
                "detail": "accounts_on_device = 3 accounts (>= 3)",
            },
            {"code": "risk.no_real_name", "weight": 10, "detail": "without_real_name = 1 (>= 1)"},
        ],
        "features": {
            "account_age_days": 400.0,
            "accounts_on_device": 3,
            "claims_from_ip_last_hour": 0,
            "distinct_cities_last_day": 1,
            "km_from_last_claim": None,
            "minutes_since_last_claim": None,
            "claims_last_30d": 0,
            "uses_last_30d": 0,
            "feeds_redeemer": 0,
            "device_blacklisted": False,
            "account_blacklisted": False,
            "ip_blacklisted": False,
            "has_real_name": False,
        },
    }
    assert decide(features, OFF).explanation()["thresholds"] is None


def test_rule_table_for_the_console() -> None:
    table = rule_table()
    assert [row["code"] for row in table] == [
        "risk.device_shared",
        "risk.new_account",
        "risk.ip_velocity",
        "risk.geo_velocity",
        "risk.city_hopping",
        "risk.claim_without_use",
        "risk.feeds_redeemer",
        "risk.blacklisted",
        "risk.no_real_name",
    ]
    assert table[0]["tiers"] == [
        {"threshold": 10, "weight": 40},
        {"threshold": 5, "weight": 25},
        {"threshold": 3, "weight": 10},
    ]
    for rule in RULES:  # heaviest tier first, so the first match is the one that counts
        weights = [w for _, w in rule.tiers]
        assert weights == sorted(weights, reverse=True)


# --- monotonicity ----------------------------------------------------------------------------

optional_km = st.none() | st.floats(0, 5000)
optional_minutes = st.none() | st.floats(0, 3000)


@st.composite
def riskier_pairs(draw: st.DrawFn) -> tuple[ClaimFeatures, ClaimFeatures]:
    """Features and a copy with every value the same or moved towards risk."""
    km = draw(optional_km)
    minutes = draw(optional_minutes)
    claims = draw(st.integers(0, 60))
    uses = draw(st.integers(0, 60))
    flags = [draw(st.booleans()) for _ in range(4)]
    base = ClaimFeatures(
        account_age_days=draw(st.floats(0, 3000)),
        accounts_on_device=draw(st.integers(1, 40)),
        claims_from_ip_last_hour=draw(st.integers(0, 200)),
        distinct_cities_last_day=draw(st.integers(1, 8)),
        km_from_last_claim=km,
        minutes_since_last_claim=minutes,
        claims_last_30d=claims,
        uses_last_30d=uses,
        feeds_redeemer=draw(st.integers(0, 40)),
        device_blacklisted=flags[0],
        account_blacklisted=flags[1],
        ip_blacklisted=flags[2],
        has_real_name=flags[3],
    )
    riskier = ClaimFeatures(
        account_age_days=base.account_age_days * draw(st.floats(0, 1)),
        accounts_on_device=base.accounts_on_device + draw(st.integers(0, 20)),
        claims_from_ip_last_hour=base.claims_from_ip_last_hour + draw(st.integers(0, 200)),
        distinct_cities_last_day=base.distinct_cities_last_day + draw(st.integers(0, 5)),
        km_from_last_claim=draw(optional_km) if km is None else km + draw(st.floats(0, 2000)),
        minutes_since_last_claim=(
            draw(optional_minutes) if minutes is None else minutes * draw(st.floats(0, 1))
        ),
        claims_last_30d=claims + draw(st.integers(0, 60)),
        uses_last_30d=uses - draw(st.integers(0, uses)),
        feeds_redeemer=base.feeds_redeemer + draw(st.integers(0, 40)),
        device_blacklisted=flags[0] or draw(st.booleans()),
        account_blacklisted=flags[1] or draw(st.booleans()),
        ip_blacklisted=flags[2] or draw(st.booleans()),
        has_real_name=flags[3] and draw(st.booleans()),
    )
    return base, riskier


RANK = {PASS: 0, CHALLENGE: 1, REJECT: 2}


@settings(max_examples=400, derandomize=True, deadline=None)
@given(riskier_pairs())
def test_more_risk_never_lowers_the_score_or_the_outcome(
    pair: tuple[ClaimFeatures, ClaimFeatures],
) -> None:
    base, riskier = pair
    for strictness in Strictness:
        before, after = decide(base, strictness), decide(riskier, strictness)
        assert after.raw_score >= before.raw_score
        assert after.score >= before.score
        assert RANK[after.outcome] >= RANK[before.outcome]


@pytest.mark.parametrize(
    "risk",
    [
        {"accounts_on_device": 12},
        {"account_age_days": 0.2},
        {"claims_from_ip_last_hour": 150},
        {"km_from_last_claim": 900.0, "minutes_since_last_claim": 10.0},
        {"distinct_cities_last_day": 6},
        {"claims_last_30d": 30},
        {"feeds_redeemer": 30},
        {"account_blacklisted": True},
        {"has_real_name": False},
    ],
)
def test_adding_one_risk_adds_its_weight_until_the_cap(risk: dict[str, Any]) -> None:
    base = replace(CLEAN, accounts_on_device=3, claims_from_ip_last_hour=10)
    with_risk = replace(base, **risk)
    before, after = decide(base, STANDARD), decide(with_risk, STANDARD)
    assert after.score > before.score
    assert after.score == min(100, after.raw_score)


# --- the synthetic scalper world ------------------------------------------------------------

SMALL = Scenario(seed=7, genuine=500, ring_scale=0.25, daily_stock=200)


@pytest.fixture(scope="module")
def small_world() -> World:
    return generate(SMALL)


def test_the_world_is_deterministic(small_world: World) -> None:
    again = generate(SMALL)
    assert again.attempts == small_world.attempts
    assert again.labels == small_world.labels


def test_decisions_never_read_the_labels(small_world: World) -> None:
    blind = replace(small_world, labels=dict.fromkeys(small_world.labels, GENUINE))
    assert [j.decision for j in replay(blind, STANDARD)] == [
        j.decision for j in replay(small_world, STANDARD)
    ]


def test_without_the_filter_scalpers_take_most_of_the_stock(small_world: World) -> None:
    off = evaluate(small_world, OFF)
    assert (off.genuine_claims, off.scalper_claims) == (586, 568)
    assert (off.scalper_coupons, off.genuine_coupons, off.stock) == (460, 140, 600)
    assert (off.blocked_true, off.blocked_false, off.precision, off.recall) == (0, 0, None, 0.0)


def test_standard_catches_most_scalpers_and_few_genuine(small_world: World) -> None:
    f = evaluate(small_world, STANDARD)
    assert (f.blocked_true, f.blocked_false, f.rejected_true, f.rejected_false) == (489, 5, 386, 5)
    assert f.precision is not None and f.precision >= 0.9
    assert f.recall >= 0.8
    assert (f.genuine_users, f.genuine_users_blocked) == (500, 5)
    assert (f.scalper_coupons, f.genuine_coupons) == (142, 458)


def test_stricter_blocks_more_of_both(small_world: World) -> None:
    figures = [evaluate(small_world, s) for s in (LENIENT, STANDARD, STRICT)]
    assert [(f.blocked_true, f.blocked_false) for f in figures] == [(411, 5), (489, 5), (518, 34)]


def test_distances_between_cities() -> None:
    assert round(km_between("Hangzhou", "Shanghai")) == 165
    assert round(km_between("Hangzhou", "Beijing")) == 1124
    assert km_between("Chengdu", "Chengdu") == 0.0
