"""The set-based statements of a send: each decides a whole batch of messages at once.

A send decides its batch in a temporary table, `message_decisions`: one row per message
(its id, consumer, zone, the consent it holds or tries to spend, its outcome), emptied
before each decision and at commit (ON COMMIT DELETE ROWS on PostgreSQL). Consents are
spent and caps counted from it by conditional UPDATEs and upserts, so the database settles
every race, whatever runs concurrently; the `messages` rows are written once, with their
final state (a broadcast's rows inserted, a claimed row updated), and the `message.sent`
outbox rows by one INSERT … SELECT.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCLASS
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from ccare.core.db import UTCDateTime
from ccare.core.outbox import OutboxEvent
from ccare.core.time import utcnow
from ccare.messages.models import (
    DEFAULT_TIME_ZONE,
    Broadcast,
    BroadcastStatus,
    CapCounter,
    Category,
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
REFUSED = MessageState.REFUSED
NO_SYNC = {"synchronize_session": False}

# The decisions of one batch: a temporary table, each connection has its own.
DECISIONS = Table(
    "message_decisions",
    MetaData(),
    Column("id", BigInteger, nullable=False),  # the message's id
    Column("consumer_id", BigInteger, nullable=False),
    Column("merchant_id", BigInteger, nullable=False),
    Column("template_id", BigInteger, nullable=False),
    Column("broadcast_id", BigInteger),
    Column("time_zone", String(40), nullable=False),
    Column("once_id", BigInteger),  # the one-time consent the row tries to spend
    Column("consent_id", BigInteger),  # the consent it holds: long-term, or once and spent
    Column("state", String(20), nullable=False),
    Column("reason", String(20)),
    Column("due_at", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
D = DECISIONS.c


def _count(result: Any) -> int:
    """Rows an UPDATE or INSERT changed."""
    return int(result.rowcount or 0)


def _by_zone(values: Mapping[str, Any], type_: Any) -> Any:
    """`values[zone]` of each decision row's zone."""
    return case({zone: literal(v, type_) for zone, v in values.items()}, value=D.time_zone)


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
        each = func.json_each(json.dumps(list(ids))).table_valued("value").alias("ids")
        return select(each.c.value.label("cid")).subquery("ids")

    def _pending(self) -> ColumnElement[bool]:
        return D.state == PENDING.value

    def _update(self, *where: Any) -> Any:
        return update(DECISIONS).where(*where)

    # --- the decisions table --------------------------------------------------------------

    def open_decisions(self) -> None:
        """The decisions table, empty: created once per connection (no catalog churn per
        send); emptied by every commit on PostgreSQL, by `close_decisions` on SQLite."""
        self.db.execute(CreateTable(DECISIONS, if_not_exists=True))
        self.db.execute(delete(DECISIONS))

    def close_decisions(self) -> None:
        if not self.postgres:
            self.db.execute(delete(DECISIONS))

    def _oldest_consent(self, kind: ConsentKind, template: Any, consumer: Any) -> Any:
        return (
            select(func.min(Consent.id))
            .where(
                Consent.template_id == template,
                Consent.consumer_id == consumer,
                Consent.kind == kind,
                Consent.status == ConsentStatus.ACTIVE,
            )
            .scalar_subquery()
        )

    def _stage(self, source: Any) -> int:
        columns = [
            "id",
            "consumer_id",
            "merchant_id",
            "template_id",
            "broadcast_id",
            "time_zone",
            "consent_id",
            "once_id",
            "state",
        ]
        return _count(self.db.execute(insert(DECISIONS).from_select(columns, source)))

    def stage_recipients(self, broadcast: Broadcast, template_id: int, ids: Sequence[int]) -> int:
        """A decision row per recipient without a message of this broadcast yet, with a
        new message id, the consumer's zone, their long-term consent and their oldest
        one-time consent (to be spent). The caller holds the broadcast's lock."""
        ids_table = self._ids_table(sorted(set(ids)))
        cid = ids_table.c.cid
        new_id: Any
        if self.postgres:
            sequence = select(func.pg_get_serial_sequence(Message.__tablename__, "id"))
            new_id = func.nextval(cast(sequence.scalar_subquery(), REGCLASS))
        else:  # one writer at a time: the ids after the highest are free
            last = select(func.coalesce(func.max(Message.id), 0)).scalar_subquery()
            new_id = last + func.row_number().over(order_by=cid)
        template = literal(template_id, BigInteger)
        rows = ids_table.outerjoin(Recipient, Recipient.consumer_id == cid)
        if self.postgres:  # both consents in one probe of the consumer's consents
            held = self._consents_held(template, cid)
            rows = rows.join(held, true())
            long_term, once = held.c.long_term, held.c.once
        else:
            long_term = self._oldest_consent(ConsentKind.LONG_TERM, template, cid)
            once = self._oldest_consent(ConsentKind.ONCE, template, cid)
        source = (
            select(
                new_id,
                cid,
                literal(broadcast.merchant_id, BigInteger),
                template,
                literal(broadcast.id, BigInteger),
                func.coalesce(Recipient.time_zone, DEFAULT_TIME_ZONE),
                long_term,
                once,
                literal(PENDING.value, String),
            )
            .select_from(rows)
            .where(cid > 0, self._no_message(broadcast.id, cid))
        )
        return self._stage(source)

    def _consents_held(self, template: Any, consumer: Any) -> Any:
        """A LATERAL row: the consumer's oldest active long-term and one-time consents."""

        def oldest(kind: ConsentKind) -> Any:
            return func.min(case((Consent.kind == kind, Consent.id)))

        return (
            select(
                oldest(ConsentKind.LONG_TERM).label("long_term"),
                oldest(ConsentKind.ONCE).label("once"),
            )
            .where(
                Consent.template_id == template,
                Consent.consumer_id == consumer,
                Consent.status == ConsentStatus.ACTIVE,
            )
            .lateral("held")
        )

    def _no_message(self, broadcast_id: int, consumer: Any) -> ColumnElement[bool]:
        """The consumer has no message of the broadcast: one index probe per recipient.
        LIMIT keeps the planner from joining the batch with every message of the broadcast,
        which grows with each batch (hashed: O(messages) a batch; in the generic plan of
        the prepared statement: a scan of them per recipient, a minute a batch at 110k)."""
        probe = (
            select(literal(1))
            .where(Message.broadcast_id == broadcast_id, Message.consumer_id == consumer)
            .limit(1)
            .scalar_subquery()
        )
        return probe.is_(None)

    def stage_claimed(self, batch: str) -> int:
        """A decision row per pending message of the claim `batch`."""
        source = select(
            Message.id,
            Message.consumer_id,
            Message.merchant_id,
            Message.template_id,
            Message.broadcast_id,
            Message.time_zone,
            self._oldest_consent(ConsentKind.LONG_TERM, Message.template_id, Message.consumer_id),
            self._oldest_consent(ConsentKind.ONCE, Message.template_id, Message.consumer_id),
            literal(PENDING.value, String),
        ).where(Message.batch == batch, Message.state == PENDING)
        return self._stage(source)

    # --- claims -----------------------------------------------------------------------

    def lock_broadcast(self, broadcast_id: int) -> tuple[BroadcastStatus, int] | None:
        """Hold the broadcast's row until commit (its fan-outs decide one batch at a time);
        its status and batches done, as committed."""
        stmt = (
            select(Broadcast.status, Broadcast.chunks_done)
            .where(Broadcast.id == broadcast_id)
            .with_for_update()
        )
        row = self.db.execute(stmt).first()
        return None if row is None else (row[0], int(row[1]))

    def claim_one(self, message_id: int, batch: str) -> int:
        stmt = (
            update(Message)
            .where(Message.id == message_id, Message.state == PENDING)
            .values(batch=batch)
            .execution_options(**NO_SYNC)
        )
        return _count(self.db.execute(stmt))

    # --- consent ----------------------------------------------------------------------

    def _unserved(self) -> ColumnElement[bool]:
        """Pending rows that hold no consent yet but have a one-time consent to spend."""
        return and_(self._pending(), D.consent_id.is_(None), D.once_id.is_not(None))

    def refuse_unconsented(self, *, spent: bool = False) -> None:
        """Pending rows with no consent to hold or to spend are refused; `spent` (after the
        spending): every pending row that holds none."""
        where = [self._pending(), D.consent_id.is_(None)]
        if not spent:
            where.append(D.once_id.is_(None))
        self.db.execute(
            self._update(*where).values(state=REFUSED.value, reason=RefusalReason.NO_CONSENT.value)
        )

    def spend_once(self, now: datetime) -> None:
        """Spend each unserved row's chosen one-time consent, linked to the row's message,
        and hold it. The `status = 'active'` re-check makes a consent spent by a concurrent
        send count for that send only: its row stays unserved."""
        spend = (
            update(Consent)
            .where(
                Consent.id == D.once_id, self._unserved(), Consent.status == ConsentStatus.ACTIVE
            )
            .values(status=ConsentStatus.USED, used_at=now, message_id=D.id)
            .execution_options(**NO_SYNC)
        )
        if self.postgres:  # one statement: the spent consents (RETURNING) as a CTE
            spent = spend.returning(Consent.id, Consent.message_id).cte("spent")
            link = (
                self._update(D.id == spent.c.message_id, D.once_id == spent.c.id)
                .values(consent_id=D.once_id)
                .add_cte(spent)
            )
            self.db.execute(link)
            return
        self.db.execute(spend)
        spent_here = (
            select(Consent.id).where(Consent.id == D.once_id, Consent.message_id == D.id).exists()
        )
        self.db.execute(self._update(self._unserved(), spent_here).values(consent_id=D.once_id))

    def unserved(self) -> int:
        """Rows whose chosen one-time consent went to a concurrent send."""
        return int(self.db.scalar(select(func.count()).where(self._unserved())) or 0)

    def choose_once_again(self) -> None:
        """The unserved rows' oldest one-time consent still active (none: no consent)."""
        self.db.execute(
            self._update(self._unserved()).values(
                once_id=self._oldest_consent(ConsentKind.ONCE, D.template_id, D.consumer_id)
            )
        )

    # --- caps and quiet hours -------------------------------------------------------------

    def zones(self) -> list[str]:
        stmt = select(D.time_zone).where(self._pending()).distinct()
        return sorted(self.db.scalars(stmt))

    def count_cap(self, periods: Mapping[str, str], limit: int, reason: RefusalReason) -> None:
        """Count one message in its zone's period (`periods[zone]`) for every pending row
        whose counter is below `limit` (one upsert, in consumer order so concurrent batches
        lock counters in the same order); the rows not counted are refused for `reason` (a
        refusal holds no consent)."""
        refuse = {"state": REFUSED.value, "reason": reason.value, "consent_id": None}
        if limit <= 0:
            self.db.execute(self._update(self._pending()).values(**refuse))
            return
        source = (
            select(D.consumer_id, _by_zone(periods, String), literal(1))
            .where(self._pending())
            .order_by(D.consumer_id)
        )
        upsert = (
            self._insert()(CapCounter)
            .from_select(["consumer_id", "period", "count"], source)
            .on_conflict_do_update(
                index_elements=["consumer_id", "period"],
                set_={"count": CapCounter.count + 1},
                where=CapCounter.count < limit,
            )
            .returning(CapCounter.consumer_id)
        )
        if self.postgres:  # one statement: the upsert's RETURNING as a CTE
            counted = upsert.cte("counted")
            was_counted = select(counted.c.consumer_id).where(
                counted.c.consumer_id == D.consumer_id
            )
            stmt = self._update(self._pending(), ~was_counted.exists()).values(**refuse)
            self.db.execute(stmt.add_cte(counted))
            return
        ids = list(self.db.scalars(upsert))
        where = [self._pending()]
        if ids:
            counted_ids = self._ids_table(ids)
            where.append(D.consumer_id.not_in(select(counted_ids.c.cid)))
        self.db.execute(self._update(*where).values(**refuse))

    def uncount(self, periods: Mapping[str, str], reason: RefusalReason | None) -> None:
        """Take back the count in `periods[zone]` of the rows refused for `reason` (counted
        there first); `reason` None: of the pending rows left without a consent, which lost
        theirs to concurrent sends after the caps counted them."""
        if reason is None:
            rows = and_(self._pending(), D.consent_id.is_(None))
        else:
            rows = and_(D.state == REFUSED.value, D.reason == reason.value)
        self.db.execute(
            update(CapCounter)
            .where(
                CapCounter.consumer_id == D.consumer_id,
                CapCounter.period == _by_zone(periods, String),
                rows,
            )
            .values(count=CapCounter.count - 1)
            .execution_options(**NO_SYNC)
        )

    def go_out(
        self, due_at: Mapping[str, datetime] | None, deferred: Sequence[str], now: datetime
    ) -> None:
        """The pending rows go out now, or are scheduled at their zone's `due_at` when the
        zone is in `deferred` (quiet hours); `due_at` None: every row goes out now."""
        values: dict[str, Any] = {"state": MessageState.SENT.value, "due_at": now, "sent_at": now}
        if due_at is not None:
            values["due_at"] = _by_zone(due_at, UTCDateTime())
            if deferred:
                is_deferred = D.time_zone.in_(list(deferred))
                values["state"] = case(
                    (is_deferred, MessageState.SCHEDULED.value), else_=MessageState.SENT.value
                )
                values["sent_at"] = case((is_deferred, None), else_=literal(now, UTCDateTime()))
        self.db.execute(self._update(self._pending()).values(**values))

    # --- records ----------------------------------------------------------------------

    def count_refusals(self) -> None:
        """Add the batch's refusals to the per-template, per-reason counts (one upsert)."""
        source = (
            select(D.template_id, D.reason, D.merchant_id, func.count())
            .where(D.state == REFUSED.value)
            .group_by(D.template_id, D.reason, D.merchant_id)
        )
        stmt = self._insert()(RefusalCount).from_select(
            ["template_id", "reason", "merchant_id", "count"], source
        )
        self.db.execute(
            stmt.on_conflict_do_update(
                index_elements=["template_id", "reason"],
                set_={"count": RefusalCount.count + stmt.excluded.count},
            )
        )

    def insert_messages(
        self, broadcast: Broadcast, template: MessageTemplate, batch: str, now: datetime
    ) -> int:
        """The broadcast's `messages` rows, each written once with its outcome. A row the
        (broadcast, consumer) key already holds fails the whole batch: never sent twice."""
        source = select(
            D.id,
            D.merchant_id,
            D.template_id,
            D.consumer_id,
            D.broadcast_id,
            literal(template.category.value, String),
            literal(broadcast.title, String),
            literal(broadcast.body, String),
            literal(template.link, String),
            D.time_zone,
            D.state,
            D.reason,
            D.consent_id,
            literal(batch, String),
            literal(now, UTCDateTime()),
            D.due_at,
            D.sent_at,
        )
        columns = [
            "id",
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
            "reason",
            "consent_id",
            "batch",
            "created_at",
            "due_at",
            "sent_at",
        ]
        return _count(self.db.execute(insert(Message).from_select(columns, source)))

    def update_messages(self) -> int:
        """The claimed `messages` rows take their decided outcome."""
        stmt = (
            update(Message)
            .where(Message.id == D.id, Message.state == PENDING)
            .values(
                state=D.state,
                reason=D.reason,
                consent_id=D.consent_id,
                due_at=D.due_at,
                sent_at=D.sent_at,
            )
            .execution_options(**NO_SYNC)
        )
        return _count(self.db.execute(stmt))

    def _emit_sent(self, rows: Any, category: Any, where: Any) -> int:
        """A `message.sent` outbox row per row of `rows` (columns named as in `messages`)
        matching `where`, by one INSERT … SELECT (event id `message.sent:<id>`: unique, so
        never twice)."""
        written_at = utcnow()  # the relay's clock, whatever moment the send was decided for
        build = func.jsonb_build_object if self.postgres else func.json_object
        fields: dict[str, Any] = {
            "merchant_id": rows.merchant_id,
            "consumer_id": rows.consumer_id,
            "message_id": rows.id,
            "template_id": rows.template_id,
            "broadcast_id": rows.broadcast_id,
            "category": category,
        }
        pairs: list[Any] = []
        for key, column in fields.items():
            pairs += [literal_column(f"'{key}'"), column]
        source = select(
            literal("message.sent:") + cast(rows.id, String),
            literal("message.sent"),
            rows.merchant_id,
            rows.consumer_id,
            build(*pairs),
            rows.sent_at,
            literal(written_at, UTCDateTime()),
            literal(0),
            literal(written_at, UTCDateTime()),
        ).where(where)
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
        written = _count(self.db.execute(insert(OutboxEvent).from_select(columns, source)))
        if written:
            self.db.info["outbox_dirty"] = True  # wake the relay after commit, as emit() does
        return written

    def emit_decided(self, category: Category) -> int:
        """`message.sent` for every decided row that went out."""
        return self._emit_sent(D, literal(category.value, String), D.state == "sent")

    def emit_sent(self, batch: str) -> int:
        """`message.sent` for every message of the claim `batch` that went out."""
        where = and_(Message.batch == batch, Message.state == MessageState.SENT)
        return self._emit_sent(Message.__table__.c, Message.category, where)

    def outcome(self) -> dict[str, int]:
        """Decided rows per state, refusals per `refused:<reason>`."""
        stmt = select(D.state, D.reason, func.count()).group_by(D.state, D.reason)
        counts: dict[str, int] = {}
        for state, reason, n in self.db.execute(stmt):
            key = f"refused:{reason}" if reason else str(state)
            counts[key] = counts.get(key, 0) + int(n)
        return counts

    # --- scheduled messages -----------------------------------------------------------

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
