"""Rounds: the arm draw, a one-time campaign's coupons and message for the treatment arm
only, nothing twice, cancellation, and a failing round that writes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ccare.campaigns import rounds, service
from ccare.campaigns.models import Arm, CampaignMember
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PLATFORM
from ccare.coupons import claims
from ccare.coupons import service as coupons
from ccare.coupons.models import ActivityStatus
from ccare.messages import fanout
from ccare.messages import service as messages
from ccare.messages.models import Broadcast, Message
from tests.campaigns.conftest import NOON, Shop


def test_the_arm_draw_is_fixed_per_consumer_and_near_the_share() -> None:
    first = [rounds.arm_of("seed-a", c, 20) for c in range(1, 20_001)]
    again = [rounds.arm_of("seed-a", c, 20) for c in range(1, 20_001)]
    other_seed = [rounds.arm_of("seed-b", c, 20) for c in range(1, 20_001)]
    held = first.count(Arm.HOLDOUT)

    assert first == again
    assert first != other_seed
    # Binomial(20000, 0.2): sd 57; six sd either side.
    assert 3_660 <= held <= 4_340
    assert {rounds.arm_of("s", c, 0) for c in range(1, 1001)} == {Arm.TREATMENT}
    assert sum(rounds.arm_of("s", c, 50) == Arm.HOLDOUT for c in range(1, 1001)) > 0


def _members(shop: Shop, campaign_id: int) -> dict[int, CampaignMember]:
    with shop.db.transaction() as s:
        rows = s.scalars(select(CampaignMember).where(CampaignMember.campaign_id == campaign_id))
        out = {m.consumer_id: m for m in rows}
        s.expunge_all()
        return out


def test_a_one_time_campaign_gives_the_treatment_arm_its_coupon_and_message(shop: Shop) -> None:
    shop.consent_all()
    campaign = shop.create()
    expected_holdout = {
        p for p in shop.people if rounds.arm_of(campaign.seed, p, 25) == Arm.HOLDOUT
    }

    ran = rounds.run_due(shop.db, shop.analytics, NOON)
    again = rounds.run_due(shop.db, shop.analytics, NOON + timedelta(hours=1))
    members = _members(shop, campaign.id)
    treated = {c for c, m in members.items() if m.arm == Arm.TREATMENT}
    with shop.db.transaction() as s:
        done = service.get(s, PLATFORM, campaign.id)
        given = claims.activity_coupons(s, PLATFORM, shop.activity_id)
        (broadcast,) = s.scalars(select(Broadcast).where(Broadcast.merchant_id == shop.merchant_id))
        broadcast_id, recipients = broadcast.id, broadcast.recipients
        (the_round,) = service.rounds(s, PLATFORM, campaign.id)
        status, counts = done.status.value, (done.treated, done.held_out, done.coupons_sent)
        round_counts = (the_round.treated, the_round.held_out, the_round.broadcast_id)
    fanout.run(shop.db, broadcast_id, now=NOON)
    with shop.db.transaction() as s:
        sent_to = set(
            s.scalars(select(Message.consumer_id).where(Message.broadcast_id == broadcast_id))
        )
        events = [
            e.type
            for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
            if e.type.startswith("campaign.")
        ]

    assert (ran, again) == (1, 0)
    assert status == "done"
    assert set(members) == set(shop.people)
    assert {c for c, m in members.items() if m.arm == Arm.HOLDOUT} == expected_holdout
    assert len(expected_holdout) > 0
    assert counts == (40 - len(expected_holdout), len(expected_holdout), len(treated))
    assert round_counts == (len(treated), len(expected_holdout), broadcast_id)
    assert {c.consumer_id for c in given} == treated
    assert {m.coupon_id for m in members.values() if m.arm == Arm.TREATMENT} == {
        c.id for c in given
    }
    assert all(m.coupon_id is None for m in members.values() if m.arm == Arm.HOLDOUT)
    assert recipients == {"kind": "campaign", "campaign_id": campaign.id, "round": 0}
    assert sent_to == treated
    assert events == ["campaign.started", "campaign.round_done", "campaign.finished"]


def test_a_coupon_that_cannot_be_given_is_recorded_per_member(shop: Shop) -> None:
    with shop.db.transaction() as s:
        coupons.set_status(s, shop.staff, shop.activity_id, ActivityStatus.PAUSED)
    campaign = shop.create(template_id=None, variables={})

    rounds.run_due(shop.db, shop.analytics, NOON)
    members = _members(shop, campaign.id)
    with shop.db.transaction() as s:
        done = service.get(s, PLATFORM, campaign.id)
        sent, failed = done.coupons_sent, done.coupons_failed

    treated = [m for m in members.values() if m.arm == Arm.TREATMENT]
    assert sent == 0
    assert failed == len(treated)
    assert {m.coupon_error for m in treated} == {"coupon.activity_not_active"}


def test_a_cancelled_campaign_runs_no_round(shop: Shop) -> None:
    later = shop.create(start_at=NOON + timedelta(hours=2))
    with shop.db.transaction() as s:
        scheduled = service.get(s, PLATFORM, later.id).status.value
        service.cancel(s, shop.staff, later.id, NOON)

    ran = rounds.run_due(shop.db, shop.analytics, NOON + timedelta(hours=3))

    assert scheduled == "scheduled"
    assert ran == 0
    assert _members(shop, later.id) == {}


def test_a_round_that_fails_writes_nothing_and_says_why(shop: Shop) -> None:
    campaign = shop.create()
    with shop.db.transaction() as s:
        messages.archive_template(s, shop.staff, shop.template_id)

    ran = rounds.run_due(shop.db, shop.analytics, NOON)
    with shop.db.transaction() as s:
        failed = service.get(s, PLATFORM, campaign.id)
        state = (failed.status.value, failed.error, failed.start_at, failed.treated)
        given = claims.activity_coupons(s, PLATFORM, shop.activity_id)

    assert ran == 0
    assert state == (
        "scheduled",
        "message.template_archived: the template is archived",
        NOON + rounds.RETRY_AFTER,
        0,
    )
    assert _members(shop, campaign.id) == {}
    assert given == []


def test_a_round_taken_by_another_worker_is_not_run_again(shop: Shop) -> None:
    campaign = shop.create(
        trigger={"kind": "entered_segment", "check_every_minutes": 60}, template_id=None
    )
    assert rounds.run_due(shop.db, shop.analytics, NOON) == 1
    # A second worker that listed the campaign as due before the first one's round.
    with shop.db.transaction() as s:
        late = rounds.run_round(s, shop.analytics, campaign.id, NOON + timedelta(minutes=1))
        running = service.get(s, PLATFORM, campaign.id)
        state = (running.status.value, running.rounds, running.next_round_at)

    assert late is None
    assert state == ("running", 1, NOON + timedelta(minutes=60))
