"""Brand placements serve their bookings, and an impression counts toward the guarantee;
an unfunded group with a star-point grant is served free, and its impression spends one
free impression of the grant, never money."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from ccare.brand_bookings import service as bookings
from ccare.brand_bookings.models import BrandBooking
from ccare.brand_bookings.schemas import BookingCreate
from ccare.core.db import Database
from ccare.core.tenancy import PrincipalKind
from ccare.promotion import decisions, tracking
from ccare.promotion.models import AdCreative
from ccare.runtime import Runtime
from ccare.star_points.models import StarPointGrant
from tests import factories as f
from tests.brand_bookings.conftest import fund, make_creative, manager_of

SECRET = "test-secret"
# Noon in Beijing on 2026-12-12.
NOON = datetime(2026, 12, 12, 4, 0, tzinfo=UTC)


class Lucky(random.Random):
    """Draws 0: a booking with any chance at all is served."""

    def random(self) -> float:
        return 0.0


def _consumer(db: Database) -> tuple[int, object]:
    from ccare.core.tenancy import Principal

    cid = f.make_consumer(db)
    return cid, Principal(kind=PrincipalKind.CONSUMER, id=cid, name="c")


def test_a_brand_placement_serves_its_booking(db: Database, runtime: Runtime) -> None:
    m = f.make_merchant(db)
    creative_id = make_creative(db, m.merchant_id)
    fund(db, m.merchant_id, 100_000)
    with db.transaction() as s:
        booking, _ = bookings.reserve(
            s,
            manager_of(m.merchant_id, m.owner_staff_id),
            runtime.analytics,
            BookingCreate(
                out_request_no="b1",
                placement="double_12",
                creative_id=creative_id,
                start_day=date(2026, 12, 12),
                end_day=date(2026, 12, 12),
                guaranteed=1_000,
            ),
            now=NOON - timedelta(days=3),
        )
        booking_id = booking.id
    consumer, principal = _consumer(db)
    with db.transaction() as s:
        decision = decisions.decide(
            s, SECRET, placement="double_12", consumer_id=consumer, now=NOON, rng=Lucky()
        )
    assert [(a.kind, a.creative.creative_id, a.charge_type) for a in decision.ads] == [
        ("booking", creative_id, "booked")
    ]
    with db.transaction() as s:
        row = tracking.record_impression(
            s, SECRET, decision.ads[0].impression_token, principal, NOON
        )  # type: ignore[arg-type]
        assert (row.booking_id, row.cost_millifen) == (booking_id, 0)
    with db.transaction() as s:
        assert s.get(BrandBooking, booking_id).delivered == 1  # type: ignore[union-attr]


def test_free_exposure_fills_what_the_auction_leaves(db: Database) -> None:
    m = f.make_merchant(db)
    creative_id = make_creative(db, m.merchant_id)  # its group bids on the home feed; no money
    with db.transaction() as s:
        group_id = s.scalar(select(AdCreative.group_id).where(AdCreative.id == creative_id))
        grant = StarPointGrant(
            merchant_id=m.merchant_id,
            group_id=group_id,
            out_request_no="g1",
            points=2,
            impressions_total=2,
        )
        s.add(grant)
        s.flush()
        grant_id = grant.id
    consumer, principal = _consumer(db)
    with db.transaction() as s:
        decision = decisions.decide(
            s, SECRET, placement="home_feed", consumer_id=consumer, now=NOON, rng=random.Random(0)
        )
    assert [(a.kind, a.creative.creative_id, a.charge_type) for a in decision.ads] == [
        ("free", creative_id, "free")
    ]
    with db.transaction() as s:
        row = tracking.record_impression(
            s, SECRET, decision.ads[0].impression_token, principal, NOON
        )  # type: ignore[arg-type]
        assert (row.grant_id, row.cost_millifen) == (grant_id, 0)
    with db.transaction() as s:
        assert s.get(StarPointGrant, grant_id).impressions_used == 1  # type: ignore[union-attr]
