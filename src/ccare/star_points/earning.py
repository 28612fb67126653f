"""Earning by the rule table: the worker calls these with the events of the merchant's
own operation. Each earning is an entry with a unique reference (rule and cause), counted
against the rule's daily cap, and announced as `star_points.earned`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ccare.catalog import service as catalog
from ccare.core.errors import NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM
from ccare.core.time import local_date
from ccare.coupons import risk
from ccare.star_points import rules
from ccare.star_points.models import StarPointEntry
from ccare.star_points.repository import StarPointsRepository
from ccare.star_points.schemas import StarPointsEarned

log = logging.getLogger(__name__)


def _merchant_of(db: Session, mini_program_id: int) -> int | None:
    try:
        return catalog.get_mini_program(db, PLATFORM, mini_program_id).merchant_id
    except NotFound:
        return None


def _flagged(db: Session, consumer_id: int, at: datetime) -> bool:
    """On the platform's account blacklist: their visits and favorites earn nothing."""
    return risk.features(db, consumer_id, None, None, at).account_blacklisted


def _earn(
    db: Session,
    repo: StarPointsRepository,
    rule: rules.Rule,
    merchant_id: int,
    consumer_id: int,
    source_event_id: str,
    at: datetime,
) -> int:
    """Points credited (0 when the cause already earned or today's cap is reached)."""
    reference = f"{rule.key}:{source_event_id}"
    if repo.entry_exists(reference):
        return 0
    day = local_date(at)
    if not repo.take_daily(merchant_id, rule.key, day, rule.daily_cap):
        log.info("star points cap: merchant %s rule %s on %s", merchant_id, rule.key, day)
        return 0
    entry = StarPointEntry(
        merchant_id=merchant_id,
        rule=rule.key,
        points=rule.points,
        reference=reference,
        consumer_id=consumer_id,
        day=day,
    )
    repo.add(entry)
    repo.ensure_account(merchant_id)
    repo.apply(merchant_id, rule.points)
    emit(
        db,
        StarPointsEarned(
            merchant_id=merchant_id,
            consumer_id=consumer_id,
            rule=rule.key,
            points=rule.points,
            entry_id=entry.id,
            source_event_id=source_event_id,
            occurred_at=at,
        ),
    )
    return rule.points


def on_visit(
    db: Session,
    *,
    event_id: str,
    consumer_id: int | None,
    mini_program_id: int,
    channel: str,
    at: datetime,
) -> int:
    """The first visit of a consumer to the merchant on a local day earns for an own
    channel, and for a return within the repeat window; later visits that day earn nothing."""
    if consumer_id is None:
        return 0
    merchant_id = _merchant_of(db, mini_program_id)
    if merchant_id is None:
        return 0
    repo = StarPointsRepository(db, PLATFORM)
    day = local_date(at)
    if not repo.first_visit_of_day(merchant_id, consumer_id, day, channel):
        return 0
    earned_by = []
    if channel in rules.OWN_CHANNELS:
        earned_by.append(rules.BY_KEY[rules.OWN_CHANNEL_VISITOR])
    window = timedelta(days=rules.REPEAT_WINDOW_DAYS)
    if repo.visited_between(merchant_id, consumer_id, day - window, day - timedelta(days=1)):
        earned_by.append(rules.BY_KEY[rules.REPEAT_VISIT])
    if not earned_by or _flagged(db, consumer_id, at):
        return 0
    return sum(_earn(db, repo, rule, merchant_id, consumer_id, event_id, at) for rule in earned_by)


def on_favorite(
    db: Session, *, event_id: str, consumer_id: int | None, mini_program_id: int, at: datetime
) -> int:
    """A consumer's first favorite ever of a mini-program earns; favoriting it again after
    removing it does not."""
    if consumer_id is None:
        return 0
    merchant_id = _merchant_of(db, mini_program_id)
    if merchant_id is None:
        return 0
    repo = StarPointsRepository(db, PLATFORM)
    if not repo.first_favorite(merchant_id, mini_program_id, consumer_id, at):
        return 0
    if _flagged(db, consumer_id, at):
        return 0
    rule = rules.BY_KEY[rules.NEW_FAVORITE]
    return _earn(db, repo, rule, merchant_id, consumer_id, event_id, at)
