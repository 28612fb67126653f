"""Merchant-coupon (商家券) discounts on an order's lines, in integer fen.

`evaluate` previews one coupon on its own; `price` applies the stacking policy to a set. Both
are pure: the service layer loads the rules and records the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

BASIS_POINTS = 10_000


class CouponKind(StrEnum):
    FIXED = "fixed"  # 满减
    DISCOUNT = "discount"  # 折扣
    SPECIAL_PRICE = "special_price"  # 特价
    EXCHANGE = "exchange"  # 兑换


class Stacking(StrEnum):
    EXCLUSIVE = "exclusive"
    JOINT = "joint"


class DiscountBase(StrEnum):
    ORIGINAL = "original"
    DISCOUNTED = "discounted"


@dataclass(frozen=True)
class Line:
    item_id: int
    unit_price_fen: int
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"line for item {self.item_id}: quantity must be >= 1")
        if self.unit_price_fen < 0:
            raise ValueError(f"line for item {self.item_id}: unit_price_fen must be >= 0")

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class CouponRule:
    key: str
    activity_id: int
    kind: CouponKind
    amount_fen: int = 0
    floor_fen: int = 0
    pay_rate_bp: int = BASIS_POINTS
    ceiling_fen: int | None = None
    special_fen: int = 0
    items_include: frozenset[int] | None = None
    items_exclude: frozenset[int] = frozenset()
    stacking: Stacking = Stacking.EXCLUSIVE
    priority: int = 0
    base: DiscountBase = DiscountBase.DISCOUNTED

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("coupon key must not be empty")
        for name in ("amount_fen", "floor_fen", "special_fen"):
            if getattr(self, name) < 0:
                raise ValueError(f"coupon {self.key!r}: {name} must be >= 0")
        # A rule whose defining value grants nothing can only come from a mapping bug.
        if self.kind in (CouponKind.FIXED, CouponKind.EXCHANGE) and self.amount_fen < 1:
            raise ValueError(f"coupon {self.key!r}: {self.kind} coupons need amount_fen >= 1")
        if self.kind is CouponKind.DISCOUNT and not 1 <= self.pay_rate_bp < BASIS_POINTS:
            raise ValueError(f"coupon {self.key!r}: pay_rate_bp must be in 1..9999")
        if self.ceiling_fen is not None and self.ceiling_fen < 1:
            raise ValueError(f"coupon {self.key!r}: ceiling_fen must be >= 1 when set")

    def covers(self, item_id: int) -> bool:
        included = self.items_include is None or item_id in self.items_include
        return included and item_id not in self.items_exclude


@dataclass(frozen=True)
class Applied:
    key: str
    discount_fen: int
    lines: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Rejected:
    key: str
    code: str
    message: str
    details: dict[str, int | str]


@dataclass(frozen=True)
class Quote:
    total_fen: int
    discount_fen: int
    payable_fen: int
    applied: tuple[Applied, ...]
    rejected: tuple[Rejected, ...]


Cuts = list[tuple[int, int]]  # (line index, fen taken off that line)


def evaluate(lines: Sequence[Line], coupon: CouponRule) -> Applied | Rejected:
    return _result(lines, coupon, _amounts(lines))


def price(lines: Sequence[Line], coupons: Sequence[CouponRule]) -> Quote:
    amounts = _amounts(lines)
    outcomes: list[Applied | Rejected | None] = [None] * len(coupons)
    keys: set[str] = set()
    activities: dict[int, str] = {}
    candidates: list[int] = []
    for j, coupon in enumerate(coupons):
        if coupon.key in keys:
            outcomes[j] = Rejected(coupon.key, "coupon.duplicate", "coupon is used twice", {})
            continue
        keys.add(coupon.key)
        if coupon.activity_id in activities:
            outcomes[j] = Rejected(
                coupon.key,
                "coupon.same_activity",
                "only one coupon of an activity may be used per order",
                {"activity_id": coupon.activity_id, "kept": activities[coupon.activity_id]},
            )
            continue
        activities[coupon.activity_id] = coupon.key
        candidates.append(j)

    joint = sorted(
        (j for j in candidates if coupons[j].stacking is Stacking.JOINT),
        key=lambda j: (-coupons[j].priority, coupons[j].key),
    )
    exclusive = sorted(
        (j for j in candidates if coupons[j].stacking is Stacking.EXCLUSIVE),
        key=lambda j: coupons[j].key,
    )
    # Listed in tie-break order: the joint set, then exclusive coupons by key.
    options = [_chain(lines, coupons, joint, amounts)]
    options += [{j: _result(lines, coupons[j], amounts)} for j in exclusive]
    totals = [_total(option) for option in options]
    chosen = totals.index(max(totals))
    best = totals[chosen]

    for k, option in enumerate(options):
        for j, outcome in option.items():
            if k == chosen or isinstance(outcome, Rejected):
                outcomes[j] = outcome
            else:
                outcomes[j] = Rejected(
                    coupons[j].key,
                    "coupon.not_stackable",
                    "an exclusive coupon cannot be combined with others; "
                    "the combination with the larger discount was kept",
                    {"discount_fen": totals[k], "chosen_discount_fen": best},
                )

    winners = joint if chosen == 0 else [exclusive[chosen - 1]]
    applied = tuple(r for j in winners if isinstance(r := outcomes[j], Applied))
    rejected = tuple(outcome for outcome in outcomes if isinstance(outcome, Rejected))
    total = sum(amounts)
    return Quote(total, best, total - best, applied, rejected)


def _amounts(lines: Sequence[Line]) -> list[int]:
    if len({line.item_id for line in lines}) != len(lines):
        raise ValueError("each item may appear on one line only")
    return [line.amount_fen for line in lines]


def _chain(
    lines: Sequence[Line], coupons: Sequence[CouponRule], order: list[int], amounts: list[int]
) -> dict[int, Applied | Rejected]:
    remaining = list(amounts)
    results: dict[int, Applied | Rejected] = {}
    for j in order:
        outcome = _apply(lines, coupons[j], remaining)
        if isinstance(outcome, Rejected):
            results[j] = outcome
            continue
        for i, cut in outcome:
            remaining[i] -= cut
        results[j] = _applied(lines, coupons[j], outcome)
    return results


def _result(lines: Sequence[Line], coupon: CouponRule, amounts: list[int]) -> Applied | Rejected:
    outcome = _apply(lines, coupon, amounts)
    return outcome if isinstance(outcome, Rejected) else _applied(lines, coupon, outcome)


def _total(option: dict[int, Applied | Rejected]) -> int:
    return sum(r.discount_fen for r in option.values() if isinstance(r, Applied))


def _applied(lines: Sequence[Line], coupon: CouponRule, cuts: Cuts) -> Applied:
    return Applied(
        coupon.key,
        sum(cut for _, cut in cuts),
        tuple((lines[i].item_id, cut) for i, cut in cuts if cut),
    )


def _apply(lines: Sequence[Line], coupon: CouponRule, remaining: list[int]) -> Cuts | Rejected:
    """Cuts for one coupon given what is left of each line; `remaining` is not modified."""
    eligible = [i for i, line in enumerate(lines) if coupon.covers(line.item_id)]
    if not eligible:
        return Rejected(
            coupon.key, "coupon.no_eligible_goods", "no item in the order is covered", {}
        )
    original = coupon.base is DiscountBase.ORIGINAL
    base = [line.amount_fen for line in lines] if original else remaining
    eligible_fen = sum(base[i] for i in eligible)
    if eligible_fen < coupon.floor_fen:
        return Rejected(
            coupon.key,
            "coupon.below_minimum_spend",
            f"eligible spend {eligible_fen} fen is below the minimum {coupon.floor_fen} fen",
            {"floor_fen": coupon.floor_fen, "eligible_fen": eligible_fen},
        )
    cuts = _cuts(lines, coupon, eligible, base, remaining)
    if sum(cut for _, cut in cuts) == 0:
        return Rejected(
            coupon.key,
            "coupon.no_discount",
            "the coupon takes nothing off this order",
            {"eligible_fen": eligible_fen},
        )
    return cuts


def _cuts(
    lines: Sequence[Line],
    coupon: CouponRule,
    eligible: list[int],
    base: list[int],
    remaining: list[int],
) -> Cuts:
    # ceiling_fen caps any kind's reduction: it is what the activity budgets each coupon at.
    cap = coupon.ceiling_fen if coupon.ceiling_fen is not None else sum(remaining)
    eligible_fen = sum(base[i] for i in eligible)
    if coupon.kind is CouponKind.FIXED:
        return _spread(min(coupon.amount_fen, eligible_fen, cap), eligible, lines, remaining)
    if coupon.kind is CouponKind.DISCOUNT:
        payable = -(-eligible_fen * coupon.pay_rate_bp // BASIS_POINTS)
        return _spread(min(eligible_fen - payable, cap), eligible, lines, remaining)
    # One unit of the dearest eligible item; on a discounted base a unit is worth its share of
    # what is left of its line, rounded down.
    top = max(eligible, key=lambda i: (base[i] // lines[i].quantity, -lines[i].item_id))
    unit = base[top] // lines[top].quantity
    if coupon.kind is CouponKind.SPECIAL_PRICE:
        reduction = max(unit - coupon.special_fen, 0)
    else:
        reduction = min(unit, coupon.amount_fen)
    return [(top, min(reduction, cap, remaining[top]))]


def _spread(
    reduction: int, eligible: list[int], lines: Sequence[Line], remaining: list[int]
) -> Cuts:
    """Share a whole-order reduction in proportion to what is left of each line.

    The rounding remainder goes one fen at a time to the largest lines (ties: lowest item id),
    so the shares sum exactly and no line goes below zero.
    """
    pool = sum(remaining[i] for i in eligible)
    reduction = min(reduction, pool)
    if reduction <= 0:
        return []
    shares = {i: reduction * remaining[i] // pool for i in eligible}
    leftover = reduction - sum(shares.values())
    for i in sorted(eligible, key=lambda i: (-remaining[i], lines[i].item_id))[:leftover]:
        shares[i] += 1
    return [(i, shares[i]) for i in eligible]
