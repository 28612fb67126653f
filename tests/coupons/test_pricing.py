from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccare.coupons.pricing import (
    Applied,
    CouponKind,
    CouponRule,
    DiscountBase,
    Line,
    Quote,
    Rejected,
    Stacking,
    evaluate,
    price,
)

FIXED = CouponKind.FIXED
DISCOUNT = CouponKind.DISCOUNT
SPECIAL = CouponKind.SPECIAL_PRICE
EXCHANGE = CouponKind.EXCHANGE
JOINT = Stacking.JOINT


_activities = count(1000)


def rule(key: str, kind: CouponKind, activity_id: int | None = None, **kw: Any) -> CouponRule:
    """A rule in an activity of its own unless one is named."""
    activity = next(_activities) if activity_id is None else activity_id
    return CouponRule(key=key, activity_id=activity, kind=kind, **kw)


def rejected(result: Applied | Rejected) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


# --- one coupon, previewed ---------------------------------------------------------------


def test_fixed_30_off_5_spreads_by_line_amount() -> None:
    lines = [Line(1, 1800, 2), Line(2, 500, 1)]
    coupon = rule("m30", FIXED, amount_fen=500, floor_fen=3000)

    # 500 × 3600/4100 = 439.02, 500 × 500/4100 = 60.98: the spare fen goes to the larger line.
    assert evaluate(lines, coupon) == Applied("m30", 500, ((1, 440), (2, 60)))
    quote = price(lines, [coupon])
    assert (quote.total_fen, quote.discount_fen, quote.payable_fen) == (4100, 500, 3600)


def test_floor_just_below_and_at_the_threshold() -> None:
    coupon = rule("m30", FIXED, amount_fen=500, floor_fen=3000)

    below = rejected(evaluate([Line(1, 1000, 2), Line(2, 999, 1)], coupon))
    assert below.code == "coupon.below_minimum_spend"
    assert below.details == {"floor_fen": 3000, "eligible_fen": 2999}
    assert evaluate([Line(1, 1000, 2), Line(2, 1000, 1)], coupon) == Applied(
        "m30", 500, ((1, 334), (2, 166))
    )


def test_fixed_never_takes_more_than_the_eligible_goods() -> None:
    lines = [Line(1, 300, 1), Line(2, 5000, 1)]
    coupon = rule("c", FIXED, amount_fen=1000, items_include=frozenset({1}))
    assert evaluate(lines, coupon) == Applied("c", 300, ((1, 300),))


def test_discount_85_percent_with_and_without_ceiling() -> None:
    lines = [Line(1, 10000, 1), Line(2, 2345, 1)]

    # Pays ceil(12345 × 0.85) = 10494, so 1851 off; 1500 once capped.
    assert evaluate(lines, rule("d", DISCOUNT, pay_rate_bp=8500)) == Applied(
        "d", 1851, ((1, 1500), (2, 351))
    )
    assert evaluate(lines, rule("d", DISCOUNT, pay_rate_bp=8500, ceiling_fen=1500)) == Applied(
        "d", 1500, ((1, 1216), (2, 284))
    )


def test_discount_rounds_the_payment_up() -> None:
    assert evaluate([Line(1, 999, 1)], rule("d", DISCOUNT, pay_rate_bp=8500)) == Applied(
        "d", 149, ((1, 149),)
    )
    nothing = rejected(evaluate([Line(1, 1, 1)], rule("d", DISCOUNT, pay_rate_bp=9999)))
    assert (nothing.code, nothing.details) == ("coupon.no_discount", {"eligible_fen": 1})


def test_special_price_on_the_dearest_unit() -> None:
    lines = [Line(1, 1800, 2), Line(2, 2500, 1)]

    assert evaluate(lines, rule("s", SPECIAL, special_fen=990)) == Applied("s", 1510, ((2, 1510),))
    assert evaluate(lines, rule("s", SPECIAL, special_fen=990, ceiling_fen=1000)) == Applied(
        "s", 1000, ((2, 1000),)
    )
    assert evaluate(lines, rule("s", SPECIAL, special_fen=990, items_exclude=frozenset({2}))) == (
        Applied("s", 810, ((1, 810),))
    )
    assert rejected(evaluate(lines, rule("s", SPECIAL, special_fen=2500))).code == (
        "coupon.no_discount"
    )


def test_exchange_covers_one_unit_up_to_its_amount() -> None:
    lines = [Line(1, 1500, 1), Line(2, 2600, 2)]

    assert evaluate(lines, rule("x", EXCHANGE, amount_fen=2000)) == Applied("x", 2000, ((2, 2000),))
    assert evaluate(lines, rule("x", EXCHANGE, amount_fen=3000)) == Applied("x", 2600, ((2, 2600),))
    assert evaluate(
        lines, rule("x", EXCHANGE, amount_fen=3000, items_include=frozenset({1}))
    ) == Applied("x", 1500, ((1, 1500),))


def test_exchange_between_equally_priced_items_takes_the_lowest_id() -> None:
    lines = [Line(5, 1000, 1), Line(3, 1000, 1)]
    assert evaluate(lines, rule("x", EXCHANGE, amount_fen=5000)) == Applied("x", 1000, ((3, 1000),))


def test_include_and_exclude_decide_the_eligible_spend() -> None:
    lines = [Line(1, 2000, 1), Line(2, 3000, 1), Line(3, 500, 1)]
    some = frozenset({1, 2, 3})
    two = frozenset({2})

    assert evaluate(
        lines,
        rule("c", FIXED, amount_fen=1000, floor_fen=2500, items_include=some, items_exclude=two),
    ) == Applied("c", 1000, ((1, 800), (3, 200)))
    short = rejected(
        evaluate(lines, rule("c", FIXED, amount_fen=1000, floor_fen=2600, items_exclude=two))
    )
    assert short.details == {"floor_fen": 2600, "eligible_fen": 2500}
    for include, exclude in ((frozenset({9}), frozenset()), (two, two)):
        coupon = rule("c", FIXED, amount_fen=100, items_include=include, items_exclude=exclude)
        assert rejected(evaluate(lines, coupon)).code == "coupon.no_eligible_goods"


def test_allocation_remainder_goes_to_the_largest_lines() -> None:
    lines = [Line(1, 1000, 1), Line(2, 1, 1), Line(3, 1000, 1)]
    assert evaluate(lines, rule("c", FIXED, amount_fen=10)) == Applied("c", 10, ((1, 5), (3, 5)))

    tied = [Line(3, 100, 1), Line(1, 100, 1), Line(2, 100, 1)]
    assert evaluate(tied, rule("c", FIXED, amount_fen=100)) == Applied(
        "c", 100, ((3, 33), (1, 34), (2, 33))
    )


def test_preview_ignores_other_coupons_and_uses_original_amounts() -> None:
    lines = [Line(1, 10000, 1)]
    assert evaluate(lines, rule("d", DISCOUNT, pay_rate_bp=8000, stacking=JOINT)) == Applied(
        "d", 2000, ((1, 2000),)
    )


# --- stacking --------------------------------------------------------------------------------


def test_joint_coupons_on_discounted_vs_original_base() -> None:
    lines = [Line(1, 10000, 1)]
    first = rule("x", FIXED, amount_fen=2000, stacking=JOINT, priority=10)

    on_discounted = price(lines, [rule("y", DISCOUNT, pay_rate_bp=8000, stacking=JOINT), first])
    assert on_discounted == Quote(
        10000,
        3600,
        6400,
        (Applied("x", 2000, ((1, 2000),)), Applied("y", 1600, ((1, 1600),))),
        (),
    )
    original = rule("y", DISCOUNT, pay_rate_bp=8000, stacking=JOINT, base=DiscountBase.ORIGINAL)
    on_original = price(lines, [original, first])
    assert (on_original.discount_fen, on_original.payable_fen) == (4000, 6000)
    assert on_original.applied[1] == Applied("y", 2000, ((1, 2000),))


def test_joint_order_is_priority_then_key() -> None:
    lines = [Line(1, 10000, 1)]
    fixed = rule("x", FIXED, amount_fen=2000, stacking=JOINT)
    discount = rule("y", DISCOUNT, pay_rate_bp=8000, stacking=JOINT)
    assert [a.key for a in price(lines, [discount, fixed]).applied] == ["x", "y"]
    assert price(lines, [discount, fixed]).discount_fen == 3600

    first = rule("y", DISCOUNT, pay_rate_bp=8000, stacking=JOINT, priority=1)
    quote = price(lines, [fixed, first])
    assert [(a.key, a.discount_fen) for a in quote.applied] == [("y", 2000), ("x", 2000)]


def test_floor_on_discounted_base_sees_earlier_coupons() -> None:
    lines = [Line(1, 10000, 1)]
    first = rule("x", FIXED, amount_fen=2000, stacking=JOINT, priority=1)
    second = rule("y", DISCOUNT, pay_rate_bp=8000, floor_fen=9000, stacking=JOINT)

    quote = price(lines, [first, second])
    assert quote.discount_fen == 2000
    assert quote.rejected == (
        Rejected(
            "y",
            "coupon.below_minimum_spend",
            "eligible spend 8000 fen is below the minimum 9000 fen",
            {"floor_fen": 9000, "eligible_fen": 8000},
        ),
    )
    original = rule(
        "y", DISCOUNT, pay_rate_bp=8000, floor_fen=9000, stacking=JOINT, base=DiscountBase.ORIGINAL
    )
    assert price(lines, [first, original]).discount_fen == 4000


def test_original_base_never_takes_a_line_below_what_is_left() -> None:
    lines = [Line(1, 1000, 1)]
    quote = price(
        lines,
        [
            rule("x", FIXED, amount_fen=800, stacking=JOINT, priority=1),
            rule("y", FIXED, amount_fen=500, stacking=JOINT, base=DiscountBase.ORIGINAL),
            rule("z", FIXED, amount_fen=100, stacking=JOINT),
        ],
    )
    assert [(a.key, a.lines) for a in quote.applied] == [("x", ((1, 800),)), ("y", ((1, 200),))]
    assert (quote.discount_fen, quote.payable_fen) == (1000, 0)
    assert [(r.key, r.code) for r in quote.rejected] == [("z", "coupon.no_discount")]


def test_original_base_unit_coupon_is_capped_by_what_is_left_of_its_line() -> None:
    lines = [Line(1, 1000, 1), Line(2, 400, 1)]
    quote = price(
        lines,
        [
            rule("x", FIXED, amount_fen=700, stacking=JOINT, priority=1),
            rule("y", EXCHANGE, amount_fen=1000, stacking=JOINT, base=DiscountBase.ORIGINAL),
        ],
    )
    # x leaves 500 of line 1; y picks line 1 (dearest at original price) and takes the 500.
    assert [(a.key, a.lines) for a in quote.applied] == [
        ("x", ((1, 500), (2, 200))),
        ("y", ((1, 500),)),
    ]
    assert quote.payable_fen == 200


def _exclusive_vs_joint(exclusive_fen: int) -> Quote:
    return price(
        [Line(1, 10000, 1)],
        [
            rule("j2", DISCOUNT, pay_rate_bp=9000, stacking=JOINT),
            rule("e", FIXED, amount_fen=exclusive_fen),
            rule("j1", FIXED, amount_fen=1000, stacking=JOINT, priority=1),
        ],
    )


def test_exclusive_wins_when_it_gives_more_than_the_joint_set() -> None:
    # The joint set: 1000 off, then 10% of the 9000 left.
    quote = _exclusive_vs_joint(2500)
    assert quote.applied == (Applied("e", 2500, ((1, 2500),)),)
    assert [(r.key, r.code, r.details) for r in quote.rejected] == [
        ("j2", "coupon.not_stackable", {"discount_fen": 1900, "chosen_discount_fen": 2500}),
        ("j1", "coupon.not_stackable", {"discount_fen": 1900, "chosen_discount_fen": 2500}),
    ]


def test_joint_set_wins_when_it_gives_more_or_the_same() -> None:
    for exclusive_fen in (1500, 1900):
        quote = _exclusive_vs_joint(exclusive_fen)
        assert [(a.key, a.discount_fen) for a in quote.applied] == [("j1", 1000), ("j2", 900)]
        assert quote.discount_fen == 1900
        assert [(r.key, r.code) for r in quote.rejected] == [("e", "coupon.not_stackable")]


def test_tied_exclusive_coupons_keep_the_lowest_key() -> None:
    lines = [Line(1, 5000, 1)]
    quote = price(lines, [rule("b", FIXED, amount_fen=1000), rule("a", FIXED, amount_fen=1000)])
    assert [a.key for a in quote.applied] == ["a"]
    assert [(r.key, r.code) for r in quote.rejected] == [("b", "coupon.not_stackable")]


def test_a_coupon_rejected_for_its_own_reason_keeps_it() -> None:
    lines = [Line(1, 5000, 1)]
    quote = price(
        lines,
        [
            rule("e", FIXED, amount_fen=3000, floor_fen=20000),
            rule("j", FIXED, amount_fen=100, stacking=JOINT),
        ],
    )
    assert quote.applied == (Applied("j", 100, ((1, 100),)),)
    assert [(r.key, r.code) for r in quote.rejected] == [("e", "coupon.below_minimum_spend")]


def test_same_key_twice_is_a_duplicate() -> None:
    coupon = rule("k", FIXED, activity_id=1, amount_fen=100, stacking=JOINT)
    quote = price([Line(1, 5000, 1)], [coupon, coupon])
    assert quote.applied == (Applied("k", 100, ((1, 100),)),)
    assert quote.rejected == (Rejected("k", "coupon.duplicate", "coupon is used twice", {}),)


def test_two_coupons_of_one_activity_keep_the_first() -> None:
    quote = price(
        [Line(1, 5000, 1)],
        [
            rule("k2", FIXED, activity_id=7, amount_fen=900, stacking=JOINT),
            rule("k1", FIXED, activity_id=7, amount_fen=100, stacking=JOINT),
        ],
    )
    assert [a.key for a in quote.applied] == ["k2"]
    assert [(r.key, r.code, r.details) for r in quote.rejected] == [
        ("k1", "coupon.same_activity", {"activity_id": 7, "kept": "k2"})
    ]


def test_empty_order() -> None:
    quote = price([], [rule("c", FIXED, amount_fen=100)])
    assert (quote.total_fen, quote.discount_fen, quote.payable_fen, quote.applied) == (0, 0, 0, ())
    assert [r.code for r in quote.rejected] == ["coupon.no_eligible_goods"]


# --- malformed input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Line(1, 100, 0), "quantity"),
        (lambda: Line(1, -1, 1), "unit_price_fen"),
        (lambda: rule("d", DISCOUNT, pay_rate_bp=0), "pay_rate_bp"),
        (lambda: rule("d", DISCOUNT, pay_rate_bp=10000), "pay_rate_bp"),
        (lambda: rule("c", FIXED, amount_fen=0), "amount_fen"),
        (lambda: rule("x", EXCHANGE, amount_fen=0), "amount_fen"),
        (lambda: rule("c", FIXED, amount_fen=100, floor_fen=-1), "floor_fen"),
        (lambda: rule("s", SPECIAL, special_fen=-1), "special_fen"),
        (lambda: rule("d", DISCOUNT, pay_rate_bp=8000, ceiling_fen=0), "ceiling_fen"),
        (lambda: rule("", FIXED, amount_fen=100), "key"),
    ],
)
def test_malformed_lines_and_rules_raise(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_an_item_on_two_lines_raises() -> None:
    lines = [Line(1, 100, 1), Line(1, 200, 1)]
    with pytest.raises(ValueError, match="one line"):
        price(lines, [])
    with pytest.raises(ValueError, match="one line"):
        evaluate(lines, rule("c", FIXED, amount_fen=100))


# --- properties ------------------------------------------------------------------------------

ITEM_IDS = st.integers(1, 8)
PROPERTIES = settings(max_examples=200, derandomize=True, deadline=None)


@st.composite
def orders(draw: st.DrawFn) -> list[Line]:
    ids = draw(st.lists(ITEM_IDS, unique=True, max_size=6))
    return [Line(i, draw(st.integers(0, 50_000)), draw(st.integers(1, 5))) for i in ids]


@st.composite
def rules(draw: st.DrawFn) -> CouponRule:
    kind = draw(st.sampled_from(CouponKind))
    needs_amount = kind in (FIXED, EXCHANGE)
    return CouponRule(
        key=draw(st.sampled_from("abcdef")),
        activity_id=draw(st.integers(1, 5)),
        kind=kind,
        amount_fen=draw(st.integers(1 if needs_amount else 0, 60_000)),
        floor_fen=draw(st.just(0) | st.integers(0, 150_000)),
        pay_rate_bp=draw(st.integers(1, 9999)),
        ceiling_fen=draw(st.none() | st.integers(1, 30_000)),
        special_fen=draw(st.integers(0, 50_000)),
        items_include=draw(st.none() | st.frozensets(ITEM_IDS)),
        items_exclude=draw(st.frozensets(ITEM_IDS, max_size=3)),
        stacking=draw(st.sampled_from(Stacking)),
        priority=draw(st.integers(0, 3)),
        base=draw(st.sampled_from(DiscountBase)),
    )


def assert_invariants(lines: list[Line], coupons: list[CouponRule], quote: Quote) -> None:
    amounts = {line.item_id: line.amount_fen for line in lines}
    assert quote.total_fen == sum(amounts.values())
    assert 0 <= quote.discount_fen <= quote.total_fen
    assert quote.payable_fen == quote.total_fen - quote.discount_fen >= 0
    assert sum(a.discount_fen for a in quote.applied) == quote.discount_fen

    applied_keys = [a.key for a in quote.applied]
    assert len(applied_keys) == len(set(applied_keys))
    assert Counter(applied_keys + [r.key for r in quote.rejected]) == Counter(
        c.key for c in coupons
    )
    by_key: dict[str, CouponRule] = {}
    for c in coupons:
        by_key.setdefault(c.key, c)  # a repeated key is rejected, so the first one is in play
    assert len({by_key[k].activity_id for k in applied_keys}) == len(applied_keys)
    if any(by_key[k].stacking is Stacking.EXCLUSIVE for k in applied_keys):
        assert len(applied_keys) == 1

    taken: Counter[int] = Counter()
    for a in quote.applied:
        assert a.discount_fen > 0
        assert a.discount_fen == sum(cut for _, cut in a.lines)
        ceiling = by_key[a.key].ceiling_fen
        assert ceiling is None or a.discount_fen <= ceiling
        for item_id, cut in a.lines:
            assert cut > 0
            assert by_key[a.key].covers(item_id)
            taken[item_id] += cut
    for item_id, cut in taken.items():
        assert cut <= amounts[item_id]


@PROPERTIES
@given(orders(), st.lists(rules(), max_size=6))
def test_price_invariants_hold_for_any_coupon_set(
    lines: list[Line], coupons: list[CouponRule]
) -> None:
    assert_invariants(lines, coupons, price(lines, coupons))


@PROPERTIES
@given(orders(), st.lists(rules().map(lambda c: replace(c, stacking=JOINT)), max_size=6))
def test_price_invariants_hold_for_joint_chains(
    lines: list[Line], coupons: list[CouponRule]
) -> None:
    assert_invariants(lines, coupons, price(lines, coupons))


@PROPERTIES
@given(
    orders(),
    st.lists(rules(), max_size=6, unique_by=(lambda c: c.key, lambda c: c.activity_id)),
)
def test_price_keeps_the_best_option(lines: list[Line], coupons: list[CouponRule]) -> None:
    quote = price(lines, coupons)
    assert_invariants(lines, coupons, quote)
    for coupon in coupons:
        if coupon.stacking is Stacking.EXCLUSIVE:
            alone = evaluate(lines, coupon)
            assert quote.discount_fen >= (alone.discount_fen if isinstance(alone, Applied) else 0)
    codes = {r.code for r in quote.rejected}
    assert not codes & {"coupon.duplicate", "coupon.same_activity"}


@PROPERTIES
@given(orders(), rules())
def test_evaluate_alone_matches_price_and_the_closed_forms(
    lines: list[Line], coupon: CouponRule
) -> None:
    result = evaluate(lines, coupon)
    quote = price(lines, [coupon])
    assert_invariants(lines, [coupon], quote)
    eligible = sum(line.amount_fen for line in lines if coupon.covers(line.item_id))
    if isinstance(result, Rejected):
        assert quote.rejected == (result,)
        return
    assert quote.applied == (result,)
    cap = coupon.ceiling_fen if coupon.ceiling_fen is not None else eligible
    if coupon.kind is FIXED:
        assert result.discount_fen == min(coupon.amount_fen, eligible, cap)
    elif coupon.kind is DISCOUNT:
        paid = -(-eligible * coupon.pay_rate_bp // 10000)
        assert result.discount_fen == min(eligible - paid, cap)
    else:
        assert len(result.lines) == 1
