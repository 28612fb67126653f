"""Budget pacing: each plan takes part in an auction only with a probability, adjusted once
per 5-minute slot so that its daily budget is spent along the day's traffic instead of in
the first busy hour.

The controller, per plan, at each slot boundary:

    velocity  ≈ spend per unit of traffic share at probability 1, observed over the last
                slot as Δspend ÷ (p × share of the slot), smoothed
    desired   = remaining budget ÷ remaining traffic share (of the plan's serving hours)
    p         = clamp(desired ÷ velocity, P_MIN, 1)

Spend is read as a running total (not counted per process), so every server process that
sees the same totals computes the same probabilities. The billing counters, not pacing,
are what guarantee a budget is never exceeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

SLOT_MINUTES = 5
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
P_MIN = 0.001
P_START = 1.0  # a new plan takes part fully until its spend rate is known…
BRAKE = 1.5  # …and any plan sits out the rest of a slot once it spent 1.5 × its share
SMOOTHING = 0.5

# Share of a day's ad requests per local hour (sums to 1): quiet at night, peaks at
# breakfast, lunch and in the evening, as a consumer payment app sees them.
HOURLY_TRAFFIC: tuple[float, ...] = tuple(
    w / 1000
    for w in (
        12, 7, 5, 4, 5, 10, 25, 52, 62, 48, 44, 58,
        66, 52, 40, 38, 42, 54, 68, 74, 70, 58, 38, 19,
    )
)  # fmt: skip


def slot_of(local: datetime) -> int:
    return (local.hour * 60 + local.minute) // SLOT_MINUTES


def slot_start(day_start: datetime, slot: int) -> datetime:
    return day_start + timedelta(minutes=slot * SLOT_MINUTES)


def day_curve(hours: str, weekday: int, hourly: Sequence[float] = HOURLY_TRAFFIC) -> np.ndarray:
    """Per-slot share of one day's traffic the plan may serve in, summing to 1 (all zeros
    when its 7 × 24 bitmap allows no hour that day). `weekday`: Monday = 0."""
    allowed = np.array([hours[weekday * 24 + h] == "1" for h in range(24)], dtype=float)
    per_hour = np.asarray(hourly, dtype=float) * allowed
    total = per_hour.sum()
    if total <= 0:
        return np.zeros(SLOTS_PER_DAY)
    per_slot = np.repeat(per_hour / total, 60 // SLOT_MINUTES) / (60 // SLOT_MINUTES)
    return np.asarray(per_slot, dtype=float)


class Pacing:
    """Throttle probabilities of many plans over one local day.

    `curves` holds one row per distinct serving-hours pattern; `curve_of[i]` is plan i's
    row. Budgets and spend are in milli-fen.
    """

    def __init__(
        self,
        budgets: np.ndarray,
        curve_of: np.ndarray,
        curves: np.ndarray,
        spent: np.ndarray | None = None,
    ) -> None:
        n = len(budgets)
        self.budget = np.asarray(budgets, dtype=float)
        self.curve_of = np.asarray(curve_of, dtype=np.int64)
        self.curves = np.asarray(curves, dtype=float).reshape(-1, SLOTS_PER_DAY)
        # remaining[k, s] = share of curve k from slot s to the end of the day
        tail = np.cumsum(self.curves[:, ::-1], axis=1)[:, ::-1]
        self.remaining = np.hstack([tail, np.zeros((len(self.curves), 1))])
        self.spent = np.zeros(n) if spent is None else np.asarray(spent, dtype=float)
        self.spent_at_slot = self.spent.copy()
        self.velocity = np.full(n, np.nan)
        self.p = np.full(n, P_START)
        self.allowance = np.full(n, np.inf)  # what each plan should spend in this slot
        self.braked = np.zeros(n, dtype=bool)
        self.slot = -1

    def __len__(self) -> int:
        return len(self.budget)

    def record(self, plan: int, cost_millifen: int) -> None:
        self.spent[plan] += cost_millifen
        if self.spent[plan] - self.spent_at_slot[plan] > BRAKE * self.allowance[plan]:
            self.braked[plan] = True

    def set_spent(self, spent: np.ndarray) -> None:
        """The authoritative totals (from the billing counters, all processes)."""
        self.spent = np.maximum(self.spent, np.asarray(spent, dtype=float))

    def probabilities(self, slot: int) -> np.ndarray:
        if slot != self.slot:
            self._advance(slot)
        return np.where(self.braked, 0.0, self.p)

    def _advance(self, slot: int) -> None:
        rows = self.curve_of
        if self.slot >= 0 and slot > self.slot:
            elapsed = self.remaining[rows, self.slot] - self.remaining[rows, slot]
            exposure = self.p * elapsed
            seen = exposure > 1e-9
            observed = np.divide(
                self.spent - self.spent_at_slot, exposure, out=np.zeros(len(self)), where=seen
            )
            fresh = seen & np.isnan(self.velocity)
            self.velocity = np.where(fresh, observed, self.velocity)
            blend = seen & ~fresh
            self.velocity = np.where(
                blend, SMOOTHING * self.velocity + (1 - SMOOTHING) * observed, self.velocity
            )
        left = np.maximum(self.budget - self.spent, 0.0)
        share = self.remaining[rows, slot]
        desired = np.divide(left, share, out=np.zeros(len(self)), where=share > 0)
        known = ~np.isnan(self.velocity) & (self.velocity > 0)
        ratio = np.divide(
            desired, self.velocity, out=np.zeros(len(self)), where=known & (share > 0)
        )
        # Nothing learned yet (or nothing won at all): probe upwards, from the second slot.
        probe = self.p if self.slot < 0 else np.minimum(1.0, self.p * 2)
        p = np.where(known, ratio, probe)
        p = np.clip(p, P_MIN, 1.0)
        self.p = np.where((left <= 0) | (share <= 0), 0.0, p)
        this_slot = self.curves[rows, slot] if slot < SLOTS_PER_DAY else np.zeros(len(self))
        self.allowance = np.divide(
            left * this_slot, share, out=np.zeros(len(self)), where=share > 0
        )
        self.braked[:] = False
        self.spent_at_slot = self.spent.copy()
        self.slot = slot
