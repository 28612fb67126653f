"""The set-based statements of a send: each decides a whole batch of messages at once.

A batch is the rows whose `batch` column holds one claim's token; every statement works
on `batch = :token AND state = 'pending'`, so a row is decided by exactly one claim.
Consents are spent and caps counted by conditional UPDATEs and upserts: the database
settles every race, whatever runs concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.core.db import UTCDateTime
from ccare.core.outbox import OutboxEvent
from ccare.core.time import utcnow
from ccare.messages.models import (
    DEFAULT_TIME_ZONE,
    Broadcast,
    CapCounter,
    Consent,
    ConsentKind,
    ConsentStatus,
    Message,
    MessageState,
    MessageTemplate,
    Recipient,
    RefusalCount,
    RefusalReason,
)

PENDING = MessageState.PENDING
NO_SYNC = {"synchronize_session": False}


def _count(result: Any) -> int:
    """Rows an UPDATE or INSERT changed."""
    return int(result.rowcount or 0)


class BatchQueries:
    def __init__(self, db: Session) -> None:
        self.db = db
        self.postgres = db.get_bind().dialect.name == "postgresql"

    def _insert(self) -> Any:
        return pg_insert if self.postgres else sqlite_insert

    def _ids_table(self, ids: Sequence[int]) -> Any:
        """The ids as a one-column table `cid` (one parameter, any length)."""
        if self.postgres:
            unnest = func.unnest(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
            return unnest.table_valued("cid").render_derived(name="ids")
        import json

        each = func.json_each(json.dumps(list(ids))).table_valued("value").alias("ids")
        return select(each.c.value.label("cid")).subquery("ids")

    def _pending(self, batch: str) -> ColumnElement[bool]:
        return and_(Message.batch == batch, Message.state == PENDING)

    def _update_pending(self, batch: str, *where: Any) -> Any:
        return update(Message).where(self._pending(batch), *where).execution_options(**NO_SYNC)

    # --- claims -----------------------------------------------------------------------

    def claim_recipients(
        self,
        broadcast: Broadcast,
        template: MessageTemplate,
        ids: Sequence[int],
        batch: str,
        now: datetime,
    ) -> int:
        """A pending row of this batch per recipient without one: the (broadcast, consumer)
        unique key makes a second run insert nothing, and a concurrent one wait for this
        transaction, then insert nothing. The row is decided in the same transaction."""
        ids_table = self._ids_table(sorted(set(ids)))
        source = (
            select(
                literal(broadcast.merchant_id, BigInteger),
                literal(template.id, BigInteger),
                ids_table.c.cid,
                literal(broadcast.id, BigInteger),
                literal(template.category.value, String),
                literal(broadcast.title, String),
                literal(broadcast.body, String),
                literal(template.link, String),
                func.coalesce(Recipient.time_zone, DEFAULT_TIME_ZONE),
                literal(PENDING.value, String),
                literal(batch, String),
                literal(now, UTCDateTime()),
            )
            .select_from(ids_table)
            .outerjoin(Recipient, Recipient.consumer_id == ids_table.c.cid)
            .where(ids_table.c.cid > 0)
        )
        columns = [
            "merchant_id",
            "template_id",
            "consumer_id",
            "broadcast_id",
            "category",
            "title",
            "body",
            "link",
            "time_zone",
            "state",
            "batch",
            "created_at",
        ]
        stmt = (
            self._insert()(Message)
            .from_select(columns, source)
            .on_conflict_do_nothing(index_elements=["broadcast_id", "consumer_id"])
        )
        return _count(self.db.execute(stmt))

    def claim_one(self, message_id: int, batch: str) -> int:
        stmt = (
            update(Message)
            .where(Message.id == message_id, Message.state == PENDING)
            .values(batch=batch)
            .execution_options(**NO_SYNC)
        )
        return _count(self.db.execute(stmt))

    # --- consent ----------------------------------------------------------------------

    def _consent_of(self, kind: ConsentKind) -> Any:
        return and_(
            Consent.template_id == Message.template_id,
            Consent.consumer_id == Message.consumer_id,
            Consent.kind == kind,
            Consent.status == ConsentStatus.ACTIVE,
        )

    def attach_long_term(self, batch: str) -> None:
        held = (
            select(Message.id.label("message_id"), func.min(Consent.id).label("consent_id"))
            .join(Consent, self._consent_of(ConsentKind.LONG_TERM))
            .where(self._pending(batch))
            .group_by(Message.id)
            .subquery()
        )
        self.db.execute(
            update(Message)
            .where(Message.id == held.c.message_id)
            .values(consent_id=held.c.consent_id)
            .execution_options(**NO_SYNC)
        )

    def spend_once(self, batch: str, now: datetime) -> int:
        """Spend the oldest active one-time consent of every row still without one, and
        link each to its row. The `status = 'active'` re-check makes a consent spent by a
        concurrent send count for that send only; the caller tries again for the rows
        that lost."""
        oldest = (
            select(Message.id.label("message_id"), func.min(Consent.id).label("consent_id"))
            .join(Consent, self._consent_of(ConsentKind.ONCE))
            .where(self._pending(batch), Message.consent_id.is_(None))
            .group_by(Message.id)
            .subquery()
        )
        spent = self.db.execute(
            update(Consent)
            .where(Consent.id == oldest.c.consent_id, Consent.status == ConsentStatus.ACTIVE)
            .values(status=ConsentStatus.USED, used_at=now, message_id=oldest.c.message_id)
            .returning(Consent.id)
            .execution_options(**NO_SYNC)
        ).all()
        if spent:
            self.db.execute(
                update(Message)
                .where(
                    self._pending(batch),
                    Message.consent_id.is_(None),
                    Consent.message_id == Message.id,
                    Consent.status == ConsentStatus.USED,
                )
                .values(consent_id=Consent.id)
                .execution_options(**NO_SYNC)
            )
        return len(spent)

    def unserved_with_consent(self, batch: str) -> bool:
        stmt = select(
            exists()
            .where(self._pending(batch), Message.consent_id.is_(None))
            .where(exists().where(self._consent_of(ConsentKind.ONCE)))
        )
        return bool(self.db.scalar(stmt))

    def refuse_unconsented(self, batch: str) -> None:
        self.db.execute(
            self._update_pending(batch, Message.consent_id.is_(None)).values(
                state=MessageState.REFUSED, reason=RefusalReason.NO_CONSENT
            )
        )

    def restore_consents(self, batch: str) -> None:
        """A send refused after its consent was spent (over a cap) gives the consent back."""
        refused = select(Message.id).where(
            Message.batch == batch, Message.state == MessageState.REFUSED
        )
        self.db.execute(
            update(Consent)
            .where(
                Consent.message_id.in_(refused),
                Consent.kind == ConsentKind.ONCE,
                Consent.status == ConsentStatus.USED,
            )
            .values(status=ConsentStatus.ACTIVE, used_at=None, message_id=None)
            .execution_options(**NO_SYNC)
        )
        self.db.execute(
            update(Message)
            .where(Message.batch == batch, Message.state == MessageState.REFUSED)
            .values(consent_id=None)
            .execution_options(**NO_SYNC)
        )

    # --- caps and quiet hours -------------------------------------------------------------

    def zones(self, batch: str) -> list[str]:
        stmt = select(Message.time_zone).where(self._pending(batch)).distinct()
        return sorted(self.db.scalars(stmt))

    def count_cap(self, batch: str, zone: str, period: str, limit: int) -> list[int]:
        """Count one message in `period` for every pending row of the zone whose counter is
        below `limit`; returns the consumers counted. One upsert; rows are taken in consumer
        order so concurrent batches lock counters in the same order."""
        if limit <= 0:
            return []
        source = (
            select(Message.consumer_id, literal(period, String), literal(1))
            .where(self._pending(batch), Message.time_zone == zone)
            .order_by(Message.consumer_id)
        )
        stmt = (
            self._insert()(CapCounter)
            .from_select(["consumer_id", "period", "count"], source)
            .on_conflict_do_update(
                index_elements=["consumer_id", "period"],
                set_={"count": CapCounter.count + 1},
                where=CapCounter.count < limit,
            )
            .returning(CapCounter.consumer_id)
        )
        return list(self.db.scalars(stmt))

    def refuse_uncounted(
        self, batch: str, zone: str, counted: Sequence[int], reason: RefusalReason
    ) -> None:
        where = [Message.time_zone == zone]
        if counted:
            ids = self._ids_table(counted)
            where.append(Message.consumer_id.not_in(select(ids.c.cid)))
        self.db.execute(
            self._update_pending(batch, *where).values(state=MessageState.REFUSED, reason=reason)
        )

    def uncount(self, batch: str, zone: str, period: str, reason: RefusalReason) -> None:
        """Take back the `period` count of rows refused for `reason` (counted there first)."""
        refused = select(Message.consumer_id).where(
            Message.batch == batch,
            Message.time_zone == zone,
            Message.state == MessageState.REFUSED,
            Message.reason == reason,
        )
        self.db.execute(
            update(CapCounter)
            .where(CapCounter.period == period, CapCounter.consumer_id.in_(refused))
            .values(count=CapCounter.count - 1)
            .execution_options(**NO_SYNC)
        )

    def go_out(
        self, batch: str, zone: str | None, due_at: datetime, deferred: bool, now: datetime
    ) -> None:
        where = [] if zone is None else [Message.time_zone == zone]
        values: dict[str, Any] = {"due_at": due_at}
        if deferred:
            values["state"] = MessageState.SCHEDULED
        else:
            values.update(state=MessageState.SENT, sent_at=now)
        self.db.execute(self._update_pending(batch, *where).values(**values))

    def release_due(self, batch: str, now: datetime, size: int) -> int:
        """Scheduled messages whose time has come go out (rows held elsewhere are skipped)."""
        due = (
            select(Message.id)
            .where(Message.state == MessageState.SCHEDULED, Message.due_at <= now)
            .order_by(Message.due_at, Message.id)
            .limit(size)
        )
        if self.postgres:
            due = due.with_for_update(skip_locked=True)
        stmt = (
            update(Message)
            .where(Message.id.in_(due.scalar_subquery()), Message.state == MessageState.SCHEDULED)
            .values(batch=batch, state=MessageState.SENT, sent_at=now)
            .execution_options(**NO_SYNC)
        )
        return _count(self.db.execute(stmt))

    # --- records ----------------------------------------------------------------------

    def count_refusals(self, batch: str) -> None:
        stmt = (
            select(Message.template_id, Message.merchant_id, Message.reason, func.count())
            .where(Message.batch == batch, Message.state == MessageState.REFUSED)
            .group_by(Message.template_id, Message.merchant_id, Message.reason)
        )
        for template_id, merchant_id, reason, n in self.db.execute(stmt).all():
            upsert = self._insert()(RefusalCount).values(
                template_id=template_id, reason=reason, merchant_id=merchant_id, count=n
            )
            self.db.execute(
                upsert.on_conflict_do_update(
                    index_elements=["template_id", "reason"],
                    set_={"count": RefusalCount.count + n},
                )
            )

    def emit_sent(self, batch: str) -> int:
        """A `message.sent` outbox row per message of the batch that went out, written by
        one INSERT … SELECT (event id `message.sent:<id>`: unique, so never twice)."""
        written_at = utcnow()  # the relay's clock, whatever moment the send was decided for
        build = func.jsonb_build_object if self.postgres else func.json_object
        fields: dict[str, Any] = {
            "merchant_id": Message.merchant_id,
            "consumer_id": Message.consumer_id,
            "message_id": Message.id,
            "template_id": Message.template_id,
            "broadcast_id": Message.broadcast_id,
            "category": Message.category,
        }
        pairs: list[Any] = []
        for key, column in fields.items():
            pairs += [literal_column(f"'{key}'"), column]
        payload = build(*pairs)
        source = select(
            literal("message.sent:") + cast(Message.id, String),
            literal("message.sent"),
            Message.merchant_id,
            Message.consumer_id,
            payload,
            Message.sent_at,
            literal(written_at, UTCDateTime()),
            literal(0),
            literal(written_at, UTCDateTime()),
        ).where(Message.batch == batch, Message.state == MessageState.SENT)
        columns = [
            "event_id",
            "type",
            "merchant_id",
            "consumer_id",
            "payload",
            "occurred_at",
            "created_at",
            "attempts",
            "next_attempt_at",
        ]
        written = _count(self.db.execute(self._insert()(OutboxEvent).from_select(columns, source)))
        if written:
            self.db.info["outbox_dirty"] = True  # wake the relay after commit, as emit() does
        return written

    def outcome(self, batch: str) -> dict[str, int]:
        """Rows of the batch per state, refusals per `refused:<reason>`."""
        stmt = (
            select(Message.state, Message.reason, func.count())
            .where(Message.batch == batch)
            .group_by(Message.state, Message.reason)
        )
        counts: dict[str, int] = {}
        for state, reason, n in self.db.execute(stmt):
            key = f"refused:{reason.value}" if reason else str(state.value)
            counts[key] = counts.get(key, 0) + int(n)
        return counts
