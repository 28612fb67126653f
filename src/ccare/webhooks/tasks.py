"""Events become deliveries (subscribers); the worker's delivery loop sends them (poller).

The loop claims a few due deliveries with a lease in one short transaction, sends them
outside any transaction, and records each outcome in a transaction of its own. A worker
killed mid-request holds nothing: its rows become due again when the lease ends, and the
receiver gets the same `notify_id` a second time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime

import httpx
from sqlalchemy.orm import Session

from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.events import DomainEvent
from ccare.core.subscribers import subscriber
from ccare.core.time import utcnow
from ccare.core.worker import poller
from ccare.webhooks import service
from ccare.webhooks.schemas import EVENT_TYPES, Outcome, Outgoing

# The longest each step of a request (connect, send, wait for the answer) may take;
# shortened so that all of them fit in a quarter of a shorter lease each.
REQUEST_TIMEOUT_SECONDS = 10.0
# What of an answer is read: enough for "success" and the 500 characters kept.
MAX_ANSWER_BYTES = 4096
USER_AGENT = "ccare-webhooks/1"

Sender = Callable[[Outgoing, datetime], Outcome]


def _fan_out(db: Session, event: DomainEvent) -> None:
    service.enqueue(db, event)


for _event_type in EVENT_TYPES:
    subscriber(_event_type, name=f"webhooks.enqueue.{_event_type}")(_fan_out)


def request_timeout(lease_seconds: float) -> float:
    return min(REQUEST_TIMEOUT_SECONDS, lease_seconds / 4)


class AnswerTooSlow(Exception):
    pass


def http_sender(client: httpx.Client, deadline_seconds: float) -> Sender:
    """POST and read the start of the answer.

    Connecting, sending and waiting for the answer each time out after a quarter of the
    lease, and reading the answer's body stops at the deadline, so a receiver that trickles
    its body cannot hold a delivery past its lease. (One that trickles its headers byte by
    byte still can; the price is a second copy under the same notify_id.)
    """

    def send(outgoing: Outgoing, started_at: datetime) -> Outcome:
        begun = time.monotonic()
        status: int | None = None
        answer: str | None = None
        error: str | None = None
        try:
            with client.stream(
                "POST", outgoing.url, content=outgoing.body, headers=outgoing.headers
            ) as response:
                status = response.status_code
                raw = b""
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) >= MAX_ANSWER_BYTES:
                        break
                    if time.monotonic() - begun > deadline_seconds:
                        raise AnswerTooSlow(f"no complete answer within {deadline_seconds:g} s")
                answer = raw[:MAX_ANSWER_BYTES].decode(response.encoding or "utf-8", "replace")
        except (httpx.HTTPError, OSError, ValueError, AnswerTooSlow) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration = int((time.monotonic() - begun) * 1000)
        return Outcome(started_at, duration, status, answer[:500] if answer else answer, error)

    return send


def send_due(
    db: Database,
    *,
    lease_seconds: float,
    concurrency: int,
    retry_scale: float = 1.0,
    now: datetime | None = None,
) -> int:
    """Claim, send and record one batch of due deliveries; returns how many were sent.

    `now` fixes the clock (tests walk the retry schedule with it); a batch is never larger
    than the requests sent at once, so each one starts right after its claim and ends
    within its lease.
    """
    started_at = now or utcnow()
    with db.transaction() as session:
        batch = service.claim(
            session,
            now=started_at,
            lease_seconds=lease_seconds,
            limit=concurrency,
            skip_locked=db.dialect == "postgresql",
        )
    if not batch:
        return 0
    client = httpx.Client(
        timeout=request_timeout(lease_seconds),
        follow_redirects=False,
        headers={"user-agent": USER_AGENT},
    )
    with client:
        sender = http_sender(client, deadline_seconds=lease_seconds * 0.8)
        _send_all(db, batch, sender, now, retry_scale)
    return len(batch)


def _send_all(
    db: Database,
    batch: list[Outgoing],
    sender: Sender,
    now: datetime | None,
    retry_scale: float,
) -> None:
    def one(outgoing: Outgoing) -> tuple[Outgoing, Outcome]:
        # With a real clock each request is timed from its own start.
        return outgoing, sender(outgoing, now or utcnow())

    with ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix="webhook") as pool:
        for future in as_completed([pool.submit(one, o) for o in batch]):
            outgoing, outcome = future.result()
            with db.transaction() as session:
                service.record(session, outgoing, outcome, retry_scale=retry_scale)


@poller("webhooks.deliver")
def deliver(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    return send_due(
        db,
        lease_seconds=settings.webhook_lease_seconds,
        concurrency=settings.webhook_concurrency,
        retry_scale=settings.webhook_retry_scale,
    )
