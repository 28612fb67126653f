"""Deciding sends: consent, the global caps and quiet hours, for a batch of messages at
once (one message or thousands of a broadcast take the same path). The batch is decided
in a temporary table (`batch_queries.DECISIONS`); each `messages` row is then written once
with its outcome: inserted for a broadcast's recipients, updated for a claimed message.

Order of the checks: consent first (a row without one is refused), then the weekly and
daily caps (conditional upserts), then the one-time consents are spent (conditional
UPDATEs), then the quiet hours. Counters are locked before consents, by every send. A send
refused by a cap has spent no consent and takes back any count it made; a send that lost
its consent to a concurrent one takes back its counts: a refusal leaves only its record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ccare.messages.batch_queries import BatchQueries
from ccare.messages.models import (
    Broadcast,
    Category,
    MessageTemplate,
    PlatformSettings,
    RefusalReason,
)
from ccare.messages.repository import MessageRepository
from ccare.messages.timing import QuietHours, Slot, slot

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


def _decide(q: BatchQueries, category: Category, now: datetime, rules_: Rules) -> None:
    """Decide the staged rows (each holds its long-term consent or has chosen a one-time
    one). No consent: refused. Marketing: the weekly, then the daily cap counted in each
    zone's periods. Then the one-time consents are spent; a row whose consent went to a
    concurrent send tries the next one, and with none left is refused and takes its counts
    back. The rest go out, or wait for the end of their zone's quiet hours."""
    q.refuse_unconsented()
    slots: dict[str, Slot] = {}
    if category == Category.MARKETING:
        slots = {zone: slot(now, zone, rules_.quiet) for zone in q.zones()}
    weeks = {zone: s.week for zone, s in slots.items()}
    days = {zone: s.day for zone, s in slots.items()}
    if slots:
        q.count_cap(weeks, rules_.per_week, RefusalReason.WEEKLY_CAP)
        q.count_cap(days, rules_.per_day, RefusalReason.DAILY_CAP)
        q.uncount(weeks, RefusalReason.DAILY_CAP)
    lost = False  # a consent went to a concurrent send
    for _round in range(MAX_CONSENT_ROUNDS):
        q.spend_once(now)
        if not q.unserved():
            break
        lost = True
        q.choose_once_again()
    if slots and lost:
        q.uncount(weeks, None)
        q.uncount(days, None)
    q.refuse_unconsented(spent=True)
    if slots:
        due = {zone: s.due_at for zone, s in slots.items()}
        q.go_out(due, [zone for zone, s in slots.items() if s.deferred], now)
    elif category != Category.MARKETING:
        q.go_out(None, [], now)
    q.count_refusals()


def decide(
    db: Session, batch: str, category: Category, now: datetime, rules_: Rules
) -> dict[str, int]:
    """Decide every pending message of the claim `batch`: sent, scheduled or refused, each
    row updated once. Returns the batch's rows per outcome ("sent", "scheduled",
    "refused:<reason>")."""
    q = BatchQueries(db)
    q.open_decisions()
    q.stage_claimed(batch)
    _decide(q, category, now, rules_)
    q.update_messages()
    q.emit_decided(category)
    outcome = q.outcome()
    q.close_decisions()
    return outcome


def decide_recipients(
    db: Session,
    broadcast: Broadcast,
    template: MessageTemplate,
    consumer_ids: Sequence[int],
    now: datetime,
    rules_: Rules,
) -> dict[str, int]:
    """Decide a batch of a broadcast's recipients: those without a message of it yet get
    one, written once with its outcome. The caller holds the broadcast's lock
    (`BatchQueries.lock_broadcast`), so a recipient is decided by one transaction only;
    the (broadcast, consumer) key is the last guard. Returns the rows per outcome."""
    q = BatchQueries(db)
    q.open_decisions()
    outcome: dict[str, int] = {}
    if q.stage_recipients(broadcast, template.id, consumer_ids):
        _decide(q, template.category, now, rules_)
        q.insert_messages(broadcast, template, new_batch(), now)
        q.emit_decided(template.category)
        outcome = q.outcome()
    q.close_decisions()
    return outcome


def release_due(db: Session, now: datetime, size: int = 5000) -> int:
    """Scheduled messages whose quiet hours are over go out (their caps were counted when
    they were scheduled)."""
    batch = new_batch()
    q = BatchQueries(db)
    released = q.release_due(batch, now, size)
    if released:
        q.emit_sent(batch)
    return released
