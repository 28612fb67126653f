"""A seeded day of ad requests for checking pacing: many plans compete on one placement in
a second-price auction, with traffic that follows the hourly curve only roughly (each
hour of the simulated day is off by up to ±25%, and requests arrive by Poisson)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ccare.promotion.pacing import HOURLY_TRAFFIC, SLOTS_PER_DAY, Pacing, day_curve

ALL_HOURS = "1" * 168


@dataclass(frozen=True)
class SimResult:
    budgets: np.ndarray  # milli-fen
    spent: np.ndarray
    exhausted_slot: np.ndarray  # first slot after which the plan could not pay; -1: never
    requests: int

    @property
    def errors(self) -> np.ndarray:
        """|spend − budget| ÷ budget per plan."""
        return np.asarray(np.abs(self.spent - self.budgets) / self.budgets, dtype=float)

    def exhausted_before(self, slot: int) -> int:
        """How many plans ran out of budget before `slot`."""
        return int(((self.exhausted_slot >= 0) & (self.exhausted_slot < slot)).sum())


def simulate(
    *,
    seed: int,
    plans: int = 40,
    requests_per_day: int = 200_000,
    paced: bool = True,
    reserve_millifen: int = 800,
) -> SimResult:
    """Every plan bids on every request it takes part in (per impression, in milli-fen);
    the highest bid × quality wins and pays the next one's (or the reserve). Budgets are
    set so that unthrottled plans would run dry around mid-morning."""
    rng = np.random.default_rng(seed)
    bids = rng.integers(1_500, 6_000, plans).astype(float)
    quality = rng.uniform(0.6, 1.4, plans)
    # about a third of what each plan would win if it took part in everything
    budgets = np.round(requests_per_day / plans * bids * 0.45 * rng.uniform(0.5, 1.5, plans))
    hourly = np.asarray(HOURLY_TRAFFIC) * rng.uniform(0.75, 1.25, 24)
    per_slot = np.repeat(hourly / hourly.sum() / (SLOTS_PER_DAY / 24), SLOTS_PER_DAY // 24)
    curve = day_curve(ALL_HOURS, 0)
    pacing = Pacing(budgets, np.zeros(plans, dtype=np.int64), curve[None, :])
    spent = np.zeros(plans)
    exhausted = np.full(plans, -1)
    done = np.zeros(plans, dtype=bool)
    total = 0
    for slot in range(SLOTS_PER_DAY):
        p = pacing.probabilities(slot) if paced else np.ones(plans)
        n = int(rng.poisson(requests_per_day * per_slot[slot]))
        total += n
        if n == 0:
            continue
        takes_part = rng.random((n, plans)) < p
        for row in takes_part:
            able = row & ~done
            if not able.any():
                continue
            scores = np.where(able, bids * quality, -1.0)
            order = np.argsort(-scores)
            winner = order[0]
            runner = scores[order[1]] if plans > 1 else -1.0
            price = max(float(reserve_millifen), runner / quality[winner] if runner > 0 else 0)
            price = min(np.ceil(price), bids[winner])
            if spent[winner] + price > budgets[winner]:
                # billing refuses a charge beyond the budget: the plan is done for the day
                done[winner] = True
            else:
                spent[winner] += price
                pacing.record(int(winner), int(price))
                done[winner] = budgets[winner] - spent[winner] < reserve_millifen
            if done[winner] and exhausted[winner] < 0:
                exhausted[winner] = slot
    return SimResult(budgets=budgets, spent=spent, exhausted_slot=exhausted, requests=total)
