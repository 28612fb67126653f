"""A planted effect is recovered: a recall message that raises the 7-day purchase
probability from 0.1 to 0.4 for those who receive it, measured through the API by the
campaign's own results against its holdout."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from ccare.campaigns import service as campaigns
from ccare.core.db import Database
from ccare.sim import cast, effects, world
from ccare.sim.api import Api
from tests import factories as f


def test_a_planted_recall_effect_is_recovered(
    client: TestClient,
    db: Database,
    advance: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The holdout hash's seed is random per campaign; fixed here, so are the arms.
    monkeypatch.setattr(campaigns, "secrets", SimpleNamespace(token_hex=lambda n: "5e" * n))
    op = f.make_operator(db)
    api = Api(client)
    people = cast.draw(7, merchants=1, consumers=200, rings=0)
    built = world.build(api, people, op.email, op.password, top_up=False)
    before = api.call(built.operator, "GET", "/api/v1/message-settings", "settings")

    out = effects.recall(api, built, advance, effects.Plan(base=0.1, effect=0.3))

    assert api.stats.errors() == 0
    assert (out.treated, out.held_out, out.received) == (92, 108, 92)
    # What the platform counted is what the simulator made happen, arm by arm.
    assert out.converters == out.bought == (32, 16)
    assert out.uplift == 32 / 92 - 16 / 108  # 0.1997
    assert out.low is not None and out.high is not None
    assert (round(out.low, 4), round(out.high, 4)) == (0.0803, 0.3152)
    assert out.covered and out.low > 0  # the truth inside, and the effect significant
    # The quiet hours lifted for the run are back.
    assert api.call(built.operator, "GET", "/api/v1/message-settings", "settings") == before
