"""An advertiser's day on the simulated clock: the paced plan's budget lasts the day and
follows the traffic, where an unpaced plan would have run dry in the morning."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ccare.core.db import Database
from ccare.core.time import SimulatedClock
from ccare.promotion import decisions, serving
from ccare.sim.api import Api
from ccare.sim.scenarios import pacing
from tests import factories as f
from tests.sim.conftest import follow


def test_a_paced_budget_lasts_the_day(
    client: TestClient,
    db: Database,
    platform_clock: SimulatedClock,
    advance: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The platform's own draws (pacing, creative rotation), seeded: the day replays.
    monkeypatch.setattr(serving, "PACING_DRAWS", np.random.default_rng(3))
    monkeypatch.setattr(decisions, "CHOICES", random.Random(3))
    op = f.make_operator(db)
    api = Api(client)
    api.now = platform_clock  # sessions renew by the platform's time

    day = pacing.ads_day(
        api,
        (op.email, op.password),
        seed=3,
        consumers=200,
        clock=follow(platform_clock),
        advance=advance,
    )

    assert api.stats.errors() == 0
    # 273 feeds opened in the day; the open plan was on each, paying the 0.8-fen reserve.
    assert (sum(day.traffic), day.open_spent_fen) == (273, 218)
    # The paced plan pays the open plan's 12 fen an impression: its 1,000 fen budget buys
    # 83 of them. Shown whenever it could be, it would have run dry at 09:52.
    assert (day.budget_fen, day.dry_minute) == (1_000, 9 * 60 + 52)
    assert (sum(day.paced), day.spent_fen) == (83, 996)
    # Paced, it lasted until 22:46 and followed the traffic hour by hour.
    assert day.last_minute == 22 * 60 + 46
    assert round(day.gap, 3) == 0.032
    assert round(day.unpaced_gap, 3) == 0.692  # unpaced: all of it by 09:52
    assert day.paced[8] == 7 and day.traffic[8] == 27  # the morning rush: 7 of 27 feeds
