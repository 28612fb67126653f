"""Rule trees compiled to Ibis expressions over the analytics `events` table.

The result is a table of one column, `consumer_id`: the merchant's customers (consumers
with any event with that merchant) that the rule selects. No SQL text is ever built
here: values reach the backend as Ibis literals, so the same expression runs on DuckDB,
PostgreSQL, or ClickHouse and Spark through Ibis's backends.

Most leaves are a filtered count per customer. They all become columns of ONE
`group_by(consumer_id)` over the merchant's events, so a rule of any number of such
leaves costs one scan. Leaves about a current state (favorites now, coupons held now,
profile fields) need their own per-customer subquery and are tested with `isin`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial, reduce
from typing import Any

from pydantic import BaseModel

from ccare.segments.rules import (
    Count,
    CouponLeaf,
    EventLeaf,
    FavoritedLeaf,
    ProfileLeaf,
    RuleNode,
)

Expr = Any  # Ibis expressions are dynamically typed.
Condition = Callable[[Expr], Expr]  # a leaf's row condition on a table of events


def _in(column: Expr, values: list[Any]) -> Expr:
    return column == values[0] if len(values) == 1 else column.isin(values)


def _payload_text(t: Expr, key: str) -> Expr:
    return t.payload[key].str


def _payload_id(t: Expr, key: str) -> Expr:
    # Ids are compared as the JSON text of the number: Ibis's integer unwrapping of
    # JSON does not compile on PostgreSQL, while casting JSON to text works everywhere.
    return t.payload[key].cast("string")


def _window(t: Expr, start: datetime | None, stop: datetime | None) -> list[Expr]:
    out = []
    if start is not None:
        out.append(t.occurred_at >= start)
    if stop is not None:
        out.append(t.occurred_at < stop)
    return out


def _all(conditions: list[Expr]) -> Expr:
    return reduce(lambda a, b: a & b, conditions)


def _count_test(n: Expr, count: Count) -> Expr:
    tests = []
    if count.eq is not None:
        tests.append(n == count.eq)
    if count.gte is not None:
        tests.append(n >= count.gte)
    if count.lte is not None:
        tests.append(n <= count.lte)
    return _all(tests)


class Compiler:
    def __init__(self, events: Expr, merchant_id: int, now: datetime) -> None:
        self.events = events
        self.merchant_id = merchant_id
        self.now = now
        self.mine = events.filter(
            (events.merchant_id == merchant_id) & events.consumer_id.notnull()
        )
        self._counts: dict[int, tuple[str, Expr]] = {}
        self._sets: dict[int, Expr] = {}

    # --- leaves -----------------------------------------------------------------------

    def _event_condition(self, leaf: EventLeaf, t: Expr) -> Expr:
        conditions = [t.type == leaf.type, *_window(t, *leaf.bounds(self.now))]
        if leaf.name is not None:
            conditions.append(_payload_text(t, "name") == leaf.name)
        for key, kind in _where_kinds(leaf).items():
            values = leaf.values(key)
            if kind is int:
                conditions.append(_in(_payload_id(t, key), [str(v) for v in values]))
            else:
                conditions.append(_in(_payload_text(t, key), values))
        return _all(conditions)

    def _count(self, leaf: BaseModel, condition: Condition) -> None:
        self._counts[id(leaf)] = (f"c{len(self._counts)}", condition)

    def _favorited_now(self, leaf: FavoritedLeaf) -> Expr:
        t = self.mine
        conditions = [t.type.isin(["favorite.added", "favorite.removed"])]
        if leaf.mini_program_id is not None:
            conditions.append(_payload_id(t, "mini_program_id") == str(leaf.mini_program_id))
        favs = t.filter(_all(conditions)).mutate(mp=_payload_id(t, "mini_program_id"))
        latest = favs.group_by(["consumer_id", "mp"]).aggregate(
            added=favs.occurred_at.max(where=favs.type == "favorite.added"),
            removed=favs.occurred_at.max(where=favs.type == "favorite.removed"),
        )
        now_favorite = latest.added.notnull() & (
            latest.removed.isnull() | (latest.added > latest.removed)
        )
        return latest.filter(now_favorite).consumer_id

    def _coupon_held(self, leaf: CouponLeaf) -> Expr:
        t = self.mine
        kinds = ["coupon.claimed", "coupon.used", "coupon.released", "coupon.expired"]
        conditions = [t.type.isin(kinds)]
        if leaf.activity_id is not None:
            conditions.append(_payload_id(t, "activity_id") == str(leaf.activity_id))
        moves = t.filter(_all(conditions)).mutate(coupon=_payload_id(t, "coupon_id"))
        back = (moves.type == "coupon.released") & (_payload_text(moves, "status") == "available")
        held = (moves.type == "coupon.claimed") | back
        gone = moves.type.isin(["coupon.used", "coupon.expired"]) | (
            (moves.type == "coupon.released") & ~back
        )
        state = moves.group_by(["consumer_id", "coupon"]).aggregate(
            held_at=moves.occurred_at.max(where=held),
            gone_at=moves.occurred_at.max(where=gone),
        )
        unused = state.held_at.notnull() & (
            state.gone_at.isnull() | (state.held_at > state.gone_at)
        )
        return state.filter(unused).consumer_id

    def _profile(self, leaf: ProfileLeaf) -> Expr:
        from ccare.profiles.queries import profile_table

        p = profile_table(self.events, self.merchant_id, self.now)
        column = p[leaf.field]
        values = leaf.operands()
        tests = {
            "eq": lambda: column == values[0],
            "ne": lambda: column != values[0],
            "gt": lambda: column > values[0],
            "gte": lambda: column >= values[0],
            "lt": lambda: column < values[0],
            "lte": lambda: column <= values[0],
            "in": lambda: column.isin(values),
            "between": lambda: (column >= values[0]) & (column <= values[1]),
        }
        return p.filter(tests[leaf.op]()).consumer_id

    def _plan(self, node: RuleNode) -> None:
        """Give every leaf a count condition or a consumer set, before the one scan is
        built. Conditions are functions of the table they filter, as the scan may read a
        narrowed table."""
        for leaf in node.leaves():
            if isinstance(leaf, EventLeaf):
                self._count(leaf, partial(self._event_condition, leaf))
            elif isinstance(leaf, FavoritedLeaf) and leaf.within_days is not None:
                self._count(leaf, partial(self._favorited_recently, leaf))
            elif isinstance(leaf, FavoritedLeaf):
                self._sets[id(leaf)] = self._favorited_now(leaf)
            elif isinstance(leaf, CouponLeaf) and leaf.state != "claimed_unused":
                self._count(leaf, partial(self._coupon_moves, leaf))
            elif isinstance(leaf, CouponLeaf):
                self._sets[id(leaf)] = self._coupon_held(leaf)
            elif isinstance(leaf, ProfileLeaf):
                self._sets[id(leaf)] = self._profile(leaf)

    def _favorited_recently(self, leaf: FavoritedLeaf, t: Expr) -> Expr:
        assert leaf.within_days is not None
        conditions = [
            t.type == "favorite.added",
            t.occurred_at >= self.now - timedelta(days=leaf.within_days),
        ]
        if leaf.mini_program_id is not None:
            conditions.append(_payload_id(t, "mini_program_id") == str(leaf.mini_program_id))
        return _all(conditions)

    def _coupon_moves(self, leaf: CouponLeaf, t: Expr) -> Expr:
        conditions = [t.type == ("coupon.claimed" if leaf.state == "claimed" else "coupon.used")]
        if leaf.activity_id is not None:
            conditions.append(_payload_id(t, "activity_id") == str(leaf.activity_id))
        if leaf.within_days is not None:
            conditions.append(t.occurred_at >= self.now - timedelta(days=leaf.within_days))
        return _all(conditions)

    # --- the tree ---------------------------------------------------------------------

    def _predicate(self, node: RuleNode, base: Expr) -> Expr:
        if node.all is not None:
            return _all([self._predicate(k, base) for k in node.all])
        if node.any is not None:
            return reduce(lambda a, b: a | b, [self._predicate(k, base) for k in node.any])
        if node.not_ is not None:
            return ~self._predicate(node.not_, base)
        leaf = node.event or node.profile or node.favorited or node.coupon
        if id(leaf) in self._sets:
            return base.consumer_id.isin(self._sets[id(leaf)])
        column, _ = self._counts[id(leaf)]
        count = node.event.count if node.event is not None else Count(gte=1)
        return _count_test(base[column], count)

    def _rows(self, rule: RuleNode) -> Expr:
        """The merchant's events the counts need.

        Only an exact narrowing: when every leaf is a count and the rule rejects a
        customer whose counts are all zero, rows matching no leaf cannot change the
        answer. And when the rule requires some count >= 1 (a positive leaf at the root),
        only the customers with such an event can be selected: the leaf with the shortest
        window usually selects the fewest, and the aggregate then groups their rows only.
        """
        t = self.mine
        if self._sets or _holds_at_zero(rule):
            return t
        required = _required_leaves(rule)
        if required:
            _, condition = self._counts[id(min(required, key=_window_days))]
            candidates = t.filter(condition(t)).consumer_id
            t = t.filter(t.consumer_id.isin(candidates))
        return t.filter(reduce(lambda a, b: a | b, [c(t) for _, c in self._counts.values()]))

    def members(self, rule: RuleNode) -> Expr:
        self._plan(rule)
        t = self._rows(rule)
        aggregates = {name: t.count(where=cond(t)) for name, cond in self._counts.values()}
        base = t.group_by("consumer_id").aggregate(events=t.count(), **aggregates)
        return base.filter(self._predicate(rule, base)).select("consumer_id")


def _count_of(node: RuleNode) -> Count | None:
    """A count leaf's test (a leaf with no count tests count >= 1); None for other leaves."""
    if node.event is not None:
        return node.event.count
    if node.favorited is not None and node.favorited.within_days is not None:
        return Count(gte=1)
    if node.coupon is not None and node.coupon.state != "claimed_unused":
        return Count(gte=1)
    return None


def _holds_at_zero(node: RuleNode) -> bool:
    """Would the rule select a customer with no event matching any leaf?"""
    if node.all is not None:
        return all(_holds_at_zero(k) for k in node.all)
    if node.any is not None:
        return any(_holds_at_zero(k) for k in node.any)
    if node.not_ is not None:
        return not _holds_at_zero(node.not_)
    count = _count_of(node)
    return True if count is None else count.matches_zero()


def _required_leaves(rule: RuleNode) -> list[BaseModel]:
    """Count leaves every selected customer has at least one event of."""
    nodes = rule.all if rule.all is not None else [rule]
    out: list[BaseModel] = []
    for node in nodes:
        count = _count_of(node)
        leaf = node.event or node.favorited or node.coupon
        if count is not None and leaf is not None and not count.matches_zero():
            out.append(leaf)
    return out


def _window_days(leaf: BaseModel) -> float:
    days = getattr(leaf, "within_days", None)
    if days is not None:
        return float(days)
    between = getattr(leaf, "between", None)
    if between is not None:
        return 0.0  # a fixed window: usually in the past and short
    return float("inf")


def _where_kinds(leaf: EventLeaf) -> dict[str, type]:
    from ccare.segments.rules import WHERE_FIELDS

    known = WHERE_FIELDS[leaf.type]
    return {key: known[key] for key in leaf.where}


def members_expr(events: Expr, rule: RuleNode, merchant_id: int, now: datetime) -> Expr:
    """The consumer ids the rule selects among the merchant's customers, ordered."""
    return Compiler(events, merchant_id, now).members(rule).order_by("consumer_id")


def size_expr(events: Expr, rule: RuleNode, merchant_id: int, now: datetime) -> Expr:
    return Compiler(events, merchant_id, now).members(rule).count()
