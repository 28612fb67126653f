"""A planted effect is recovered: a recall message that raises the 7-day purchase
probability from 0.1 to 0.4 for those who receive it, measured through the API by the
campaign's own results against its holdout."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from ccare.campaigns import rounds
from ccare.campaigns import service as campaigns
from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.core.worker import InProcessTransport, drain
from ccare.messages import fanout, sending
from ccare.runtime import Runtime
from ccare.sim import cast, effects, world
from ccare.sim.api import Api
from tests import factories as f


def worker(runtime: Runtime) -> int:
    """What the platform's worker does, until it has nothing left to do."""
    db, analytics = runtime.db, runtime.analytics
    total = 0
    while True:
        done = drain(db, InProcessTransport(db, analytics))
        done += rounds.run_due(db, analytics)
        done += fanout.poll(db)
        with db.transaction() as s:
            done += sending.release_due(s, utcnow())
        if not done:
            return total
        total += done


def test_a_planted_recall_effect_is_recovered(
    client: TestClient, runtime: Runtime, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The holdout hash's seed is random per campaign; fixed here, so are the arms.
    monkeypatch.setattr(campaigns, "secrets", SimpleNamespace(token_hex=lambda n: "5e" * n))
    op = f.make_operator(db)
    api = Api(client)
    people = cast.draw(7, merchants=1, consumers=200, rings=0)
    built = world.build(api, people, op.email, op.password, top_up=False)
    before = api.call(built.operator, "GET", "/api/v1/message-settings", "settings")

    out = effects.recall(api, built, lambda: worker(runtime), effects.Plan(base=0.1, effect=0.3))

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
