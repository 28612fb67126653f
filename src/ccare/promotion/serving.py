"""The in-memory serving index: every servable ad group as columns of numpy arrays, with
posting lists that find a request's candidates without scanning the others.

Candidates come from postings keyed by (placement, city) and (placement, "*") for groups
without segment targeting, by (placement, segment) for groups that include segments, and
by the keyword index for search. The remaining conditions (serving hours, member level,
excluded segments, frequency caps, already-converted users, budgets, balances and pacing)
are masks over the candidate arrays. Nothing here touches the database: `decisions.py`
builds the index from it and hands each request's user context in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ccare.promotion import keywords
from ccare.promotion.pacing import Pacing, day_curve

LEVELS = ("public", "gold", "platinum", "diamond")
LEVEL_BIT = {name: 1 << i for i, name in enumerate(LEVELS)}
SEARCH = "search_results"
BID_MANUAL, BID_OCPC, BID_ROI = 0, 1, 2
BID_CODES = {"manual": BID_MANUAL, "ocpc": BID_OCPC, "target_roi": BID_ROI}
# The pacing draws: one generator for the process (numpy's own lock makes it safe across
# threads), which a simulation may replace with a seeded one to replay a day.
PACING_DRAWS = np.random.default_rng()


@dataclass(frozen=True, slots=True)
class ServingCreative:
    creative_id: int
    title: str
    description: str
    mini_program_id: int
    page: str
    coupon_activity_id: int | None


@dataclass(frozen=True, slots=True)
class ServingAd:
    """One ad group with everything a decision needs about it."""

    group_id: int
    plan_id: int
    merchant_id: int
    per_click: bool
    bid_type: str
    bid_fen: int
    target_cpa_fen: int | None
    target_roi_bp: int | None
    placements: tuple[str, ...]
    creatives: tuple[ServingCreative, ...]
    hours: str
    daily_budget_fen: int
    total_budget_fen: int | None = None
    cities: frozenset[str] = frozenset()
    member_levels: frozenset[str] = frozenset()
    segments_include: frozenset[int] = frozenset()
    segments_exclude: frozenset[int] = frozenset()
    search_words: tuple[str | tuple[str, str], ...] = ()  # word (broad) or (word, match)
    exclude_converted: bool = False
    frequency_per_day: int | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """Who is asking, where and when (local time)."""

    placement: str
    hour_of_week: int  # Monday 00:00 local = 0
    slot: int  # pacing slot of the local day
    city: str | None = None
    member_level: str | None = None
    segments: frozenset[int] = frozenset()
    impressions_today: Mapping[int, int] = field(default_factory=dict)  # group -> count
    converted_plans: frozenset[int] = frozenset()
    query: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    pos: int
    ad: ServingAd
    keyword: str | None = None
    quality: float = 1.0


class ServingIndex:
    def __init__(
        self,
        ads: Iterable[ServingAd],
        *,
        day: date,
        spent_today: Mapping[int, int] | None = None,  # plan -> milli-fen
        spent_total: Mapping[int, int] | None = None,
        balances: Mapping[int, int] | None = None,  # merchant -> fen
        ctr_prior: Mapping[int, float] | None = None,  # group -> pCTR estimate
        default_ctr: float = 0.02,
    ) -> None:
        self.day = day
        self.ads: list[ServingAd] = list(ads)
        n = len(self.ads)
        self.pos_of = {ad.group_id: i for i, ad in enumerate(self.ads)}
        spent_today = spent_today or {}
        spent_total = spent_total or {}
        balances = balances or {}
        ctr_prior = ctr_prior or {}

        plan_ids = sorted({ad.plan_id for ad in self.ads})
        self.plan_pos = {pid: j for j, pid in enumerate(plan_ids)}
        self.plan_ids = np.array(plan_ids, dtype=np.int64)
        plan_ad: dict[int, ServingAd] = {ad.plan_id: ad for ad in self.ads}
        patterns: dict[str, int] = {}
        self.plan_of = np.array([self.plan_pos[ad.plan_id] for ad in self.ads], dtype=np.int64)
        self.merchant_of_plan = np.array([plan_ad[p].merchant_id for p in plan_ids], np.int64)
        self.per_click = np.array([ad.per_click for ad in self.ads], dtype=bool)
        self.bid_type = np.array([BID_CODES[ad.bid_type] for ad in self.ads], dtype=np.int8)
        # Milli-fen per click, or per impression: a CPM bid is fen per mille, which is
        # already milli-fen per impression.
        self.bid = np.array(
            [ad.bid_fen * 1000 if ad.per_click else ad.bid_fen for ad in self.ads], dtype=np.int64
        )
        self.ctr = np.array([ctr_prior.get(ad.group_id, default_ctr) for ad in self.ads])
        self.level_mask = np.array(
            [sum(LEVEL_BIT[lv] for lv in ad.member_levels) for ad in self.ads], dtype=np.int8
        )
        self.cap = np.array([ad.frequency_per_day or 0 for ad in self.ads], dtype=np.int32)
        self.excl_conv = np.array([ad.exclude_converted for ad in self.ads], dtype=bool)
        self.has_exclusions = any(ad.segments_exclude for ad in self.ads)
        self.hours_of_plan = np.array(
            [patterns.setdefault(plan_ad[p].hours, len(patterns)) for p in plan_ids], np.int64
        )
        by_pattern = sorted(patterns, key=patterns.__getitem__)
        self.hour_ok = np.array([[h == "1" for h in hours] for hours in by_pattern], dtype=bool)
        self.hour_ok = self.hour_ok.reshape(len(by_pattern), 168)
        weekday = day.weekday()
        curves = np.array([day_curve(hours, weekday) for hours in by_pattern])
        budgets = [plan_ad[p].daily_budget_fen * 1000 for p in plan_ids]
        self.pacing = Pacing(
            np.array(budgets, dtype=float),
            self.hours_of_plan,
            curves,
            spent=np.array([spent_today.get(p, 0) for p in plan_ids], dtype=float),
        )
        totals = [plan_ad[p].total_budget_fen for p in plan_ids]
        self.total_left = np.array(
            [
                np.inf if t is None else t * 1000 - spent_total.get(p, 0)
                for p, t in zip(plan_ids, totals, strict=True)
            ]
        )
        self.balance = {m: balances.get(m, 0) for m in set(self.merchant_of_plan.tolist())}
        self.funded = np.array(
            [self.balance[m] > 0 for m in self.merchant_of_plan.tolist()], dtype=bool
        )
        self.live = np.ones(n, dtype=bool)
        self._build_postings()

    def _build_postings(self) -> None:
        open_: dict[tuple[str, str], list[int]] = defaultdict(list)
        seg: dict[tuple[str, int], list[int]] = defaultdict(list)
        excl: dict[int, list[int]] = defaultdict(list)
        words: list[keywords.KeywordEntry] = []
        for i, ad in enumerate(self.ads):
            for placement in ad.placements:
                if placement == SEARCH:
                    continue
                if ad.segments_include:
                    for s in ad.segments_include:
                        seg[(placement, s)].append(i)
                else:
                    for city in ad.cities or ("*",):
                        open_[(placement, city)].append(i)
            for s in ad.segments_exclude:
                excl[s].append(i)
            if SEARCH in ad.placements:
                words += [
                    keywords.KeywordEntry(ad.group_id, *keywords.split_word(w), ad.bid_fen)
                    for w in ad.search_words
                ]
        as_array = lambda xs: np.array(xs, dtype=np.int64)  # noqa: E731
        self.open_postings = {k: as_array(v) for k, v in open_.items()}
        self.segment_postings = {k: as_array(v) for k, v in seg.items()}
        self.exclusions = {k: as_array(v) for k, v in excl.items()}
        self.keyword_index = keywords.KeywordIndex(words)
        self._quality: dict[tuple[int, str], int] = {}

    def __len__(self) -> int:
        return len(self.ads)

    # -- candidates ------------------------------------------------------------------------
    def _retrieve(self, ctx: Context) -> tuple[np.ndarray, dict[int, tuple[str, float]]]:
        if ctx.placement == SEARCH:
            return self._retrieve_search(ctx)
        # Open postings are disjoint: a group is under "*" or under each of its cities.
        parts = [self.open_postings.get((ctx.placement, "*"))]
        if ctx.city:
            parts.append(self.open_postings.get((ctx.placement, ctx.city)))
        segmented: set[int] = set()
        for s in ctx.segments:
            found = self.segment_postings.get((ctx.placement, s))
            if found is not None:
                # a group including segments may also restrict cities: checked one by one
                segmented.update(i for i in found.tolist() if self._city_ok(i, ctx.city))
        if segmented:
            parts.append(np.fromiter(sorted(segmented), dtype=np.int64))
        arrays = [p for p in parts if p is not None and len(p)]
        if not arrays:
            return np.empty(0, dtype=np.int64), {}
        return (arrays[0] if len(arrays) == 1 else np.concatenate(arrays)), {}

    def _city_ok(self, i: int, city: str | None) -> bool:
        cities = self.ads[i].cities
        return not cities or (city is not None and city in cities)

    def _retrieve_search(self, ctx: Context) -> tuple[np.ndarray, dict[int, tuple[str, float]]]:
        if not ctx.query:
            return np.empty(0, dtype=np.int64), {}
        found: list[int] = []
        why: dict[int, tuple[str, float]] = {}
        for match in self.keyword_index.lookup(ctx.query):
            i = self.pos_of[match.ad_group_id]
            ad = self.ads[i]
            if not self._city_ok(i, ctx.city) or (
                ad.segments_include and not ad.segments_include & ctx.segments
            ):
                continue
            found.append(i)
            why[i] = (match.keyword, self._quality_of(i, match.keyword) / 10)
        return np.array(found, dtype=np.int64), why

    def _quality_of(self, i: int, word: str) -> int:
        key = (i, word)
        if key not in self._quality:
            ad = self.ads[i]
            title = ad.creatives[0].title if ad.creatives else ""
            self._quality[key] = keywords.quality_score(
                expected_ctr=float(self.ctr[i]), keyword=word, title=title, landing_relevance=True
            )
        return self._quality[key]

    def candidates(
        self,
        ctx: Context,
        draws: np.ndarray | None = None,
        *,
        paid: bool = True,
        only: np.ndarray | None = None,
    ) -> list[Candidate]:
        chosen, why = self.eligible(ctx, draws, paid=paid, only=only)
        return [self.candidate(int(i), why) for i in chosen.tolist()]

    def candidate(self, i: int, why: Mapping[int, tuple[str, float]]) -> Candidate:
        keyword, quality = why.get(i, (None, 1.0))
        return Candidate(i, self.ads[i], keyword, quality)

    def eligible(
        self,
        ctx: Context,
        draws: np.ndarray | None = None,
        *,
        paid: bool = True,
        only: np.ndarray | None = None,
    ) -> tuple[np.ndarray, dict[int, tuple[str, float]]]:
        """Positions of every group that may take part in this request's auction, and
        the search keyword and quality of each search match. `draws` are the pacing draws
        in [0, 1), one per retrieved group (random when omitted). With `paid=False` (free
        exposure) budgets, balances and pacing do not apply; `only` restricts the answer
        to those positions."""
        found, why = self._retrieve(ctx)
        if only is not None and len(found):
            found = found[np.isin(found, only)]
        if not len(found):
            return found, why
        plans = self.plan_of[found]
        keep = self.live[found].copy()
        if paid:
            keep &= self.funded[plans] & (self.total_left[plans] > 0)
        keep &= self.hour_ok[self.hours_of_plan[plans], ctx.hour_of_week]
        levels = self.level_mask[found]
        bit = LEVEL_BIT.get(ctx.member_level or "", 0)
        keep &= (levels == 0) | ((levels & bit) != 0)
        if self.has_exclusions and ctx.segments:
            out = [self.exclusions[s] for s in ctx.segments if s in self.exclusions]
            if out:
                keep &= ~np.isin(found, np.concatenate(out))
        if ctx.impressions_today:
            capped = [
                self.pos_of[g]
                for g, seen in ctx.impressions_today.items()
                if g in self.pos_of and 0 < self.cap[self.pos_of[g]] <= seen
            ]
            if capped:
                keep &= ~np.isin(found, np.array(capped, dtype=np.int64))
        if ctx.converted_plans:
            converted = np.isin(self.plan_ids[plans], np.fromiter(ctx.converted_plans, np.int64))
            keep &= ~(self.excl_conv[found] & converted)
        if paid:
            p = self.pacing.probabilities(ctx.slot)[plans]
            if draws is None:
                draws = PACING_DRAWS.random(len(found))
            keep &= draws < p
        return found[keep], why

    def shortlist(
        self, chosen: np.ndarray, why: Mapping[int, tuple[str, float]], size: int
    ) -> list[Candidate]:
        """The `size` eligible groups with the best eCPM on the cached pCTR: only these are
        scored by the model."""
        if len(chosen) > size:
            score = np.where(
                self.per_click[chosen], self.bid[chosen] * self.ctr[chosen], self.bid[chosen]
            )
            if why:
                score = score * np.array([why.get(int(i), ("", 1.0))[1] for i in chosen])
            chosen = chosen[np.argpartition(-score, size - 1)[:size]]
        return [self.candidate(int(i), why) for i in chosen.tolist()]

    # -- spend --------------------------------------------------------------------------------
    def note_spend(self, plan_id: int, merchant_id: int, cost_millifen: int, fen: int) -> None:
        """What billing just charged, so this process throttles and stops in time."""
        j = self.plan_pos.get(plan_id)
        if j is None:
            return
        self.pacing.record(j, cost_millifen)
        if self.pacing.spent[j] >= self.pacing.budget[j]:
            self.pacing.p[j] = 0.0
        self.total_left[j] -= cost_millifen
        if merchant_id in self.balance:
            self.balance[merchant_id] -= fen
            if self.balance[merchant_id] <= 0:
                self.funded[self.merchant_of_plan == merchant_id] = False

    def stop_plan(self, plan_id: int) -> None:
        j = self.plan_pos.get(plan_id)
        if j is not None:
            self.live[self.plan_of == j] = False

    def adopt_pacing(self, old: ServingIndex) -> None:
        """Keep what the previous index learned about each plan's spend rate (same day),
        so that a rebuild does not start every plan's throttle over."""
        if old.day != self.day:
            return
        mine = self.pacing
        theirs = old.pacing
        pairs = [(j, old.plan_pos[p]) for p, j in self.plan_pos.items() if p in old.plan_pos]
        if not pairs:
            return
        new_ix = np.array([a for a, _ in pairs], dtype=np.int64)
        old_ix = np.array([b for _, b in pairs], dtype=np.int64)
        mine.p[new_ix] = theirs.p[old_ix]
        mine.velocity[new_ix] = theirs.velocity[old_ix]
        mine.spent_at_slot[new_ix] = np.minimum(theirs.spent_at_slot[old_ix], mine.spent[new_ix])
        mine.slot = theirs.slot
