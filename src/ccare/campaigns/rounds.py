"""The worker's side of campaigns: a round chooses members, draws each one's arm, gives
the treatment arm its coupon and hands its message to a broadcast — in one transaction,
so a round that fails leaves nothing behind and runs again.

Nobody enters a campaign twice (the member row's primary key), so a trigger that keeps
firing for someone, or a round run twice, gives nothing twice. The arm is a hash of the
campaign's random seed and the consumer id: random across consumers, fixed for each.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.campaigns import triggers
from ccare.campaigns.models import Arm, Campaign, CampaignRound, CampaignStatus
from ccare.campaigns.repository import CampaignRepository
from ccare.campaigns.schemas import CampaignFinished, CampaignRoundDone, CampaignStarted
from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.outbox import emit
from ccare.core.tenancy import Principal, PrincipalKind, Tenant
from ccare.core.time import utcnow
from ccare.coupons import claims
from ccare.coupons.models import Channel
from ccare.coupons.schemas import ClaimRequest
from ccare.messages import broadcasts
from ccare.segments import service as segments

log = logging.getLogger(__name__)

S = CampaignStatus
BATCH = 5000
BUCKETS = 10_000
RETRY_AFTER = timedelta(minutes=15)


def arm_of(seed: str, consumer_id: int, holdout_percent: int) -> Arm:
    digest = hashlib.sha256(f"{seed}:{consumer_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % BUCKETS
    return Arm.HOLDOUT if bucket < holdout_percent * BUCKETS // 100 else Arm.TREATMENT


def acting_for(campaign: Campaign) -> Principal:
    """The campaign acts for its merchant only, whatever the worker could reach."""
    return Principal(
        kind=PrincipalKind.SYSTEM,
        id=0,
        name=f"campaign {campaign.id}",
        merchant_id=campaign.merchant_id,
        tenant=Tenant(merchant_ids=frozenset({campaign.merchant_id})),
    )


def _candidates(
    db: Session, analytics: Any, campaign: Campaign, actor: Principal, now: datetime
) -> Iterator[list[int]]:
    trigger = campaign.trigger
    if trigger is None or trigger["kind"] == "entered_segment":
        assert campaign.segment_id is not None
        yield from segments.member_batches(db, actor.tenant, campaign.segment_id, BATCH)
        return
    ids = triggers.favorited_no_order(analytics, campaign.merchant_id, int(trigger["days"]), now)
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _give_coupons(
    db: Session, actor: Principal, campaign: Campaign, consumer_ids: list[int], done: CampaignRound
) -> None:
    assert campaign.activity_id is not None
    repo = CampaignRepository(db, actor.tenant)
    channel = Channel.MESSAGE if campaign.template_id is not None else Channel.API
    request = ClaimRequest(channel=channel, claim_key=f"campaign-{campaign.id}")
    for consumer_id in consumer_ids:
        try:
            with db.begin_nested():
                coupon = claims.send(db, actor, campaign.activity_id, consumer_id, request)
        except DomainError as exc:
            repo.give_coupon(campaign.id, consumer_id, None, exc.code[:60])
            done.coupons_failed += 1
            continue
        repo.give_coupon(campaign.id, consumer_id, coupon.id, None)
        done.coupons_sent += 1


def _send_message(db: Session, actor: Principal, campaign: Campaign, round_no: int) -> int:
    assert campaign.template_id is not None
    broadcast = broadcasts.create_to(
        db,
        actor,
        campaign.merchant_id,
        campaign.template_id,
        dict(campaign.variables),
        {"kind": "campaign", "campaign_id": campaign.id, "round": round_no},
        f"campaign-{campaign.id}-r{round_no}",
        start_now=True,
    )
    return broadcast.id


def _choose(
    db: Session, analytics: Any, campaign: Campaign, actor: Principal, done: CampaignRound
) -> None:
    repo = CampaignRepository(db, actor.tenant)
    for ids in _candidates(db, analytics, campaign, actor, done.ran_at):
        arms = {c: arm_of(campaign.seed, c, campaign.holdout_percent) for c in ids}
        added = repo.add_members(
            [
                {
                    "campaign_id": campaign.id,
                    "consumer_id": c,
                    "merchant_id": campaign.merchant_id,
                    "arm": arm,
                    "round": done.round,
                    "assigned_at": done.ran_at,
                }
                for c, arm in arms.items()
            ]
        )
        treated = sorted(c for c in added if arms[c] == Arm.TREATMENT)
        done.treated += len(treated)
        done.held_out += len(added) - len(treated)
        if campaign.activity_id is not None and treated:
            _give_coupons(db, actor, campaign, treated, done)


def run_round(db: Session, analytics: Any, campaign_id: int, now: datetime) -> CampaignRound | None:
    """One round of a due campaign; None when it is no longer due (cancelled, or taken
    by another worker)."""
    repo = CampaignRepository(db)
    campaign = repo.campaign(campaign_id, lock=True)
    if campaign is None or campaign.status not in (S.SCHEDULED, S.RUNNING):
        return None
    # Another worker may have run the round between `due` and this lock.
    due_at = campaign.start_at if campaign.status == S.SCHEDULED else campaign.next_round_at
    if due_at is None or due_at > now:
        return None
    actor = acting_for(campaign)
    repo = CampaignRepository(db, actor.tenant)
    if campaign.status == S.RUNNING and campaign.end_at is not None and now >= campaign.end_at:
        _schedule_next(db, repo, campaign, now)  # over: it ends without another round
        return None
    if campaign.status == S.SCHEDULED:
        repo.move(campaign.id, [S.SCHEDULED], {"status": S.RUNNING, "started_at": now})
        emit(
            db,
            CampaignStarted(
                merchant_id=campaign.merchant_id,
                campaign_id=campaign.id,
                name=campaign.name,
                kind="once" if campaign.trigger is None else "trigger",
            ),
        )
    done = CampaignRound(
        campaign_id=campaign.id,
        merchant_id=campaign.merchant_id,
        round=campaign.rounds,
        ran_at=now,
        treated=0,
        held_out=0,
        coupons_sent=0,
        coupons_failed=0,
    )
    _choose(db, analytics, campaign, actor, done)
    if campaign.template_id is not None and done.treated:
        done.broadcast_id = _send_message(db, actor, campaign, done.round)
    repo.add(done)
    repo.count_round(campaign.id, done)
    emit(
        db,
        CampaignRoundDone(
            merchant_id=campaign.merchant_id,
            campaign_id=campaign.id,
            round=done.round,
            treated=done.treated,
            held_out=done.held_out,
            coupons_sent=done.coupons_sent,
            broadcast_id=done.broadcast_id,
        ),
    )
    _schedule_next(db, repo, campaign, now)
    return done


def _schedule_next(
    db: Session, repo: CampaignRepository, campaign: Campaign, now: datetime
) -> None:
    if campaign.trigger is not None and campaign.end_at is not None and now < campaign.end_at:
        every = timedelta(minutes=int(campaign.trigger.get("check_every_minutes", 60)))
        repo.move(campaign.id, [S.RUNNING], {"next_round_at": min(now + every, campaign.end_at)})
        return
    repo.move(
        campaign.id, [S.RUNNING], {"status": S.DONE, "finished_at": now, "next_round_at": None}
    )
    db.refresh(campaign)
    emit(
        db,
        CampaignFinished(
            merchant_id=campaign.merchant_id,
            campaign_id=campaign.id,
            status="done",
            treated=campaign.treated,
            held_out=campaign.held_out,
        ),
    )


def _fail(db: Database, campaign_id: int, error: str, now: datetime) -> None:
    """Record why and try again later: the merchant sees the error and may fix what it
    names (an archived template, a deleted segment) or cancel."""
    later = now + RETRY_AFTER
    with db.transaction() as s:
        repo = CampaignRepository(s)
        repo.move(campaign_id, [S.SCHEDULED], {"error": error[:300], "start_at": later})
        repo.move(campaign_id, [S.RUNNING], {"error": error[:300], "next_round_at": later})


def run_due(db: Database, analytics: Any, now: datetime | None = None, limit: int = 10) -> int:
    """Every due campaign's next round, each in its own transaction; rounds run."""
    now = now or utcnow()
    with db.transaction() as s:
        due = CampaignRepository(s).due(now, limit)
    ran = 0
    for campaign_id in due:
        try:
            with db.transaction() as s:
                ran += run_round(s, analytics, campaign_id, now) is not None
        except DomainError as exc:
            log.warning("campaign %s round failed: %s", campaign_id, exc.message)
            _fail(db, campaign_id, f"{exc.code}: {exc.message}", now)
    return ran
