"""Pacing: a seeded day of traffic where unthrottled plans run dry by mid-morning; paced,
every plan spends within ±5% of its budget and none runs out before the last hour."""

from __future__ import annotations

import numpy as np

from ccare.promotion.pacing import SLOTS_PER_DAY, Pacing, day_curve
from ccare.promotion.pacing_sim import simulate

LAST_HOUR = SLOTS_PER_DAY - 12


def test_paced_plans_spend_their_budget_along_the_day() -> None:
    paced = simulate(seed=7, plans=20, requests_per_day=60_000)
    assert float(paced.errors.max()) <= 0.05
    assert paced.exhausted_before(LAST_HOUR) == 0


def test_unpaced_plans_run_out_early() -> None:
    asap = simulate(seed=7, plans=20, requests_per_day=60_000, paced=False)
    assert asap.exhausted_before(LAST_HOUR) == 20
    assert int(np.median(asap.exhausted_slot)) < 12 * 12  # before noon


def test_day_curve_covers_only_the_serving_hours() -> None:
    hours = ("0" * 8 + "1" * 4 + "0" * 12) * 7  # 08:00-12:00 every day
    curve = day_curve(hours, weekday=2)
    assert round(float(curve.sum()), 9) == 1.0
    assert float(curve[: 8 * 12].sum()) == 0.0
    assert float(curve[12 * 12 :].sum()) == 0.0
    assert day_curve("0" * 168, weekday=0).sum() == 0.0


def test_the_throttle_follows_remaining_budget_over_remaining_traffic() -> None:
    flat = np.full(SLOTS_PER_DAY, 1 / SLOTS_PER_DAY)
    pacing = Pacing(np.array([288_000.0]), np.array([0]), flat[None, :])
    assert pacing.probabilities(0)[0] == 1.0  # nothing learned: take part fully…
    pacing.record(0, 1_400)
    assert pacing.probabilities(0)[0] == 1.0
    pacing.record(0, 600)  # …until the slot's spend passes 1.5 × its 1,000 share
    assert pacing.probabilities(0)[0] == 0.0
    # 2,000 at p = 1 in one slot; left 286,000 over 287 slots = 996.5 a slot
    assert round(float(pacing.probabilities(1)[0]), 6) == round(286_000 / 287 / 2_000, 6)
    pacing.record(0, 286_000)
    assert float(pacing.probabilities(2)[0]) == 0.0  # budget spent: out for the day
