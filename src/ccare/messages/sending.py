"""Deciding sends: consent, the global caps and quiet hours, for a batch of pending
messages at once (one message or thousands of a broadcast take the same path).

Order of the checks: consent first (spent by a conditional UPDATE), then the weekly and
daily caps (conditional upserts), then the quiet hours. A send refused by a cap gives its
consent back and takes back any count it made, so a refusal leaves only its record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ccare.messages.batch_queries import BatchQueries
from ccare.messages.models import Category, PlatformSettings, RefusalReason
from ccare.messages.repository import MessageRepository
from ccare.messages.timing import QuietHours, slot

# Rounds of spending one-time consents: a round loses a consent only to a concurrent send
# that took it, and the next round takes the following one.
MAX_CONSENT_ROUNDS = 50


@dataclass(frozen=True)
class Rules:
    per_day: int
    per_week: int
    quiet: QuietHours

    @classmethod
    def defaults(cls) -> Rules:
        return cls(per_day=3, per_week=10, quiet=QuietHours(21 * 60, 9 * 60))

    @classmethod
    def of(cls, row: PlatformSettings | None) -> Rules:
        if row is None:
            return cls.defaults()
        return cls(
            per_day=row.marketing_per_day,
            per_week=row.marketing_per_week,
            quiet=QuietHours(row.quiet_start_minute, row.quiet_end_minute),
        )


def rules(db: Session) -> Rules:
    return Rules.of(MessageRepository(db).platform_settings())


def new_batch() -> str:
    return uuid.uuid4().hex


def decide(
    db: Session, batch: str, category: Category, now: datetime, rules_: Rules
) -> dict[str, int]:
    """Decide every pending message of `batch`: sent, scheduled or refused. Returns the
    batch's rows per outcome ("sent", "scheduled", "refused:<reason>")."""
    q = BatchQueries(db)
    q.attach_long_term(batch)
    for _round in range(MAX_CONSENT_ROUNDS):
        q.spend_once(batch, now)
        if not q.unserved_with_consent(batch):
            break
    q.refuse_unconsented(batch)
    if category == Category.MARKETING:
        for zone in q.zones(batch):
            when = slot(now, zone, rules_.quiet)
            week = q.count_cap(batch, zone, when.week, rules_.per_week)
            q.refuse_uncounted(batch, zone, week, RefusalReason.WEEKLY_CAP)
            day = q.count_cap(batch, zone, when.day, rules_.per_day)
            q.refuse_uncounted(batch, zone, day, RefusalReason.DAILY_CAP)
            q.uncount(batch, zone, when.week, RefusalReason.DAILY_CAP)
            q.go_out(batch, zone, when.due_at, when.deferred, now)
    else:
        q.go_out(batch, None, now, False, now)
    q.restore_consents(batch)
    q.count_refusals(batch)
    q.emit_sent(batch)
    return q.outcome(batch)


def release_due(db: Session, now: datetime, size: int = 5000) -> int:
    """Scheduled messages whose quiet hours are over go out (their caps were counted when
    they were scheduled)."""
    batch = new_batch()
    q = BatchQueries(db)
    released = q.release_due(batch, now, size)
    if released:
        q.emit_sent(batch)
    return released
