"""A warm decision reads nothing from the database: the consumer's context is kept per
process (promotion/viewers.py). What this process records shows at once (frequency caps,
exclude-converted); what another process records shows once the kept context ages out;
a new local day starts from the database again."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from ccare.core.db import Database
from ccare.core.tenancy import Principal, PrincipalKind
from ccare.core.time import local_date, local_day_start, utcnow
from ccare.promotion import decisions, service, tracking, viewers
from ccare.promotion.models import AdCreative, AdImpression
from ccare.promotion.repository import ServingRepository
from ccare.promotion.schemas import GroupUpdate
from tests import factories as f
from tests.brand_bookings.conftest import fund, make_creative

SECRET = "test-secret"
# Yesterday noon in Beijing: a past time, so a conversion at it is no future one.
NOON = local_day_start(local_date(utcnow()) - timedelta(days=1)) + timedelta(hours=12)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def advertiser(db: Database, **change: Any) -> tuple[int, int]:
    """A funded merchant with one home-feed group (bid 50 fen): (merchant, group)."""
    m = f.make_merchant(db)
    creative_id = make_creative(db, m.merchant_id)
    fund(db, m.merchant_id, 100_000)
    with db.transaction() as s:
        group_id = s.scalar(select(AdCreative.group_id).where(AdCreative.id == creative_id))
        assert group_id is not None
        service.update_group(s, f.FACTORY_OPERATOR, group_id, GroupUpdate(**change))
    return m.merchant_id, group_id


def consumer(db: Database) -> tuple[int, Principal]:
    cid = f.make_consumer(db)
    return cid, Principal(kind=PrincipalKind.CONSUMER, id=cid, name="c")


def groups_served(db: Database, consumer_id: int, at: datetime = NOON) -> list[int | None]:
    with db.transaction() as s:
        decision = decisions.decide(
            s, SECRET, placement="home_feed", consumer_id=consumer_id, now=at, rng=random.Random(1)
        )
    return [a.group_id for a in decision.ads]


def show(db: Database, principal: Principal, at: datetime = NOON) -> AdImpression:
    with db.transaction() as s:
        decision = decisions.decide(
            s, SECRET, placement="home_feed", consumer_id=principal.id, now=at, rng=random.Random(1)
        )
        token = decision.ads[0].impression_token
        return tracking.record_impression(s, SECRET, token, principal, at)


def test_a_warm_decision_reads_nothing_and_a_cap_follows_impressions_recorded_here(
    db: Database,
) -> None:
    _, group = advertiser(db, frequency_per_day=2)
    cid, principal = consumer(db)
    assert groups_served(db, cid) == [group]  # builds the index, reads the consumer
    with statements(db) as seen:
        assert groups_served(db, cid) == [group]
    assert seen == []
    show(db, principal)
    show(db, principal)
    with statements(db) as seen:
        assert groups_served(db, cid) == []  # two shown today: the cap of 2 is reached
    assert seen == []


def test_impressions_recorded_elsewhere_count_once_the_context_ages_out(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, group = advertiser(db, frequency_per_day=1)
    cid, _ = consumer(db)
    assert groups_served(db, cid) == [group]
    with db.transaction() as s:  # another server process records an impression
        assert ServingRepository(s).insert_impression(
            AdImpression(
                decision_id="elsewhere",
                slot=1,
                merchant_id=0,
                consumer_id=cid,
                placement="home_feed",
                group_id=group,
                creative_id=0,
                charge_type="cpc",
                price_millifen=0,
                cost_millifen=0,
                decided_at=NOON,
                created_at=NOON,
            )
        )
    assert groups_served(db, cid) == [group]  # this process has not looked since
    monkeypatch.setattr(viewers, "TTL_SECONDS", 0.0)
    assert groups_served(db, cid) == []


def test_a_conversion_recorded_here_excludes_the_consumer_at_once(db: Database) -> None:
    merchant, group = advertiser(
        db, targeting={"placements": ["home_feed"], "exclude_converted": True}
    )
    cid, principal = consumer(db)
    shown = show(db, principal)
    click_at = NOON + timedelta(seconds=5)
    with db.transaction() as s:
        token = _click_token(shown)
        clicked = tracking.record_click(s, SECRET, token, principal, "10.0.0.1", click_at)
        click_id = clicked.click.id
    assert groups_served(db, cid) == [group]
    with db.transaction() as s:
        tracking.upload_conversion(
            s,
            f.FACTORY_OPERATOR,
            merchant_id=merchant,
            click_id=click_id,
            out_conversion_no="lead-1",
            kind="lead",
            value_fen=0,
            occurred_at=click_at,
        )
    with statements(db) as seen:
        assert groups_served(db, cid) == []
    assert seen == []


def _click_token(shown: AdImpression) -> str:
    from ccare.promotion import tokens

    return tokens.sign(SECRET, "click", {"d": shown.decision_id, "s": shown.slot})


def test_a_new_local_day_reads_the_consumer_afresh(db: Database) -> None:
    _, group = advertiser(db, frequency_per_day=1)
    cid, principal = consumer(db)
    show(db, principal)
    assert groups_served(db, cid) == []
    tomorrow = NOON + timedelta(days=1)
    with statements(db) as seen:
        assert groups_served(db, cid, tomorrow) == [group]
    assert sum("FROM consumers" in s for s in seen) == 1
