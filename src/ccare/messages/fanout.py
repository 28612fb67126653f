"""The broadcast fan-out job: the recipient source's batches, each in one transaction
that decides its recipients in SQL and writes their messages once
(`sending.decide_recipients`).

Run it twice, or twice at once: each batch's transaction first locks the broadcast's row,
so the fan-outs of one broadcast decide one batch at a time; a batch already done
(`chunks_done`) is skipped, and a recipient who has a message of the broadcast is not
decided again. The unique (broadcast, consumer) key stays the last guard: a duplicate
fails its batch, which sends nothing. A run that dies rolls its batch back; the next run
resumes after the batches done and repeats nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.time import utcnow
from ccare.messages import recipients, sending
from ccare.messages.batch_queries import BatchQueries
from ccare.messages.models import Broadcast, BroadcastStatus, Message, MessageTemplate
from ccare.messages.repository import MessageRepository

log = logging.getLogger(__name__)

BATCH = 10000


@dataclass
class Progress:
    decided: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    finished: bool = False

    def add(self, outcome: dict[str, int]) -> None:
        for key, n in outcome.items():
            self.outcomes[key] = self.outcomes.get(key, 0) + n
            self.decided += n


def _sending(db: Database, broadcast_id: int) -> tuple[Broadcast, MessageTemplate] | None:
    with db.transaction() as s:
        broadcast = MessageRepository(s).broadcast(broadcast_id)
        if broadcast is None or broadcast.status != BroadcastStatus.SENDING:
            return None
        template = s.get(MessageTemplate, broadcast.template_id)
        assert template is not None
        s.expunge_all()
        return broadcast, template


def _fail(db: Database, broadcast_id: int, error: str) -> None:
    with db.transaction() as s:
        MessageRepository(s).move_broadcast(
            broadcast_id,
            BroadcastStatus.SENDING,
            {"status": BroadcastStatus.FAILED, "error": error[:300], "finished_at": utcnow()},
        )


def _finish(db: Database, broadcast_id: int) -> None:
    with db.transaction() as s:
        total = s.scalar(select(func.count()).where(Message.broadcast_id == broadcast_id))
        MessageRepository(s).move_broadcast(
            broadcast_id,
            BroadcastStatus.SENDING,
            {"status": BroadcastStatus.DONE, "total": int(total or 0), "finished_at": utcnow()},
        )


def _chunk(
    db: Database,
    broadcast: Broadcast,
    template: MessageTemplate,
    index: int,
    ids: list[int],
    now: datetime | None,
) -> dict[str, int]:
    with db.transaction() as s:
        held = BatchQueries(s).lock_broadcast(broadcast.id)
        if held is None or held[0] != BroadcastStatus.SENDING or held[1] > index:
            return {}  # finished, or this batch was done by a concurrent run
        moment = now or utcnow()
        outcome = sending.decide_recipients(s, broadcast, template, ids, moment, sending.rules(s))
        MessageRepository(s).advance_chunks(broadcast.id, index + 1)
        return outcome


def run(
    db: Database,
    broadcast_id: int,
    *,
    size: int = BATCH,
    now: datetime | None = None,
    max_chunks: int | None = None,
) -> Progress:
    """Work on a sending broadcast: its remaining source batches (at most `max_chunks`),
    then the move to done."""
    progress = Progress()
    found = _sending(db, broadcast_id)
    if found is None:
        progress.finished = True
        return progress
    broadcast, template = found
    try:
        with db.transaction() as s:
            chunks = list(recipients.batches(s, broadcast.merchant_id, broadcast.recipients, size))
    except DomainError as exc:
        _fail(db, broadcast.id, exc.message)
        progress.finished = True
        return progress
    todo = [(i, ids) for i, ids in enumerate(chunks) if i >= broadcast.chunks_done]
    for i, ids in todo[:max_chunks] if max_chunks is not None else todo:
        progress.add(_chunk(db, broadcast, template, i, ids, now))
    if max_chunks is None or len(todo) <= max_chunks:
        _finish(db, broadcast.id)
        progress.finished = True
    return progress


def poll(db: Database, *, size: int = BATCH) -> int:
    """The worker's poller: a few batches of each sending broadcast; how many recipients
    were decided (0: nothing to do)."""
    with db.transaction() as s:
        ids = MessageRepository(s).sending_broadcast_ids()
    done = 0
    for broadcast_id in ids:
        try:
            progress = run(db, broadcast_id, size=size, max_chunks=4)
        except Exception:
            log.exception("fan-out of broadcast %s failed; it is retried", broadcast_id)
            continue
        done += progress.decided + int(progress.finished)
    return done
