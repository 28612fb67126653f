"""Customer events in, customer profiles out. No HTTP; never commits.

Ingestion is all-or-nothing: every event of a batch is checked (shape, time window,
repeated ids, known consumers) before anything is written, and a refusal names the path of
the failing item (`events[3].occurred_at`). Accepted events are emitted as
`customer.event` through the outbox and reach the analytics store, where the profile
queries (queries.py) read them together with every other product's events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from ccare.consumers import service as consumers
from ccare.core.errors import InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.merchants import service as merchants
from ccare.profiles import queries
from ccare.profiles.repository import ProfileRepository
from ccare.profiles.schemas import (
    CustomerEvent,
    CustomerEventBatch,
    CustomerEventIn,
    CustomerProfile,
    IngestResult,
    ProfileDetail,
    ProfilePage,
    RfmBucket,
    RfmDistribution,
    RfmLabelOut,
    TimelineEvent,
)

MAX_AHEAD = timedelta(minutes=5)
MAX_AGE = timedelta(days=400)
MAX_ERRORS = 20  # listed in an error's details; the message names the first


# --- which merchant ---------------------------------------------------------------------


def merchant_for(db: Session, actor: Principal, requested: int | None) -> int:
    return merchants.merchant_for(db, actor, requested, code="customer_profile.merchant_required")


# --- ingestion --------------------------------------------------------------------------


def path_of(loc: Sequence[int | str]) -> str:
    """('body', 'events', 3, 'occurred_at') -> 'events[3].occurred_at'."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


class BatchRefused(InvalidInput):
    code = "customer_event.invalid"


def _refuse(errors: list[dict[str, str]]) -> BatchRefused:
    first = errors[0]
    return BatchRefused(
        f"{first['path']}: {first['message']}; nothing was stored",
        code=first["code"],
        path=first["path"],
        errors=errors[:MAX_ERRORS],
    )


def batch_error(errors: Sequence[Any]) -> BatchRefused:
    """Pydantic's errors on a batch as one refusal naming each failing path."""
    listed = []
    for error in errors:
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        listed.append(
            {
                "path": path_of(error.get("loc", ())),
                "code": "customer_event.invalid",
                "message": message,
            }
        )
    if not listed:
        listed.append({"path": "body", "code": "customer_event.invalid", "message": "invalid"})
    return _refuse(listed)


def parse_batch(data: Any) -> CustomerEventBatch:
    try:
        return CustomerEventBatch.model_validate(data)
    except ValidationError as exc:
        raise batch_error(exc.errors()) from None


def _check_batch(
    db: Session, events: Sequence[CustomerEventIn], now: datetime
) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    first_at: dict[str, int] = {}
    for i, event in enumerate(events):
        at = as_utc(event.occurred_at)
        if at > now + MAX_AHEAD:
            errors.append(
                {
                    "path": f"events[{i}].occurred_at",
                    "code": "customer_event.in_future",
                    "message": "more than 5 minutes in the future",
                }
            )
        elif at < now - MAX_AGE:
            errors.append(
                {
                    "path": f"events[{i}].occurred_at",
                    "code": "customer_event.too_old",
                    "message": "older than 400 days",
                }
            )
        if event.event_id in first_at:
            errors.append(
                {
                    "path": f"events[{i}].event_id",
                    "code": "customer_event.repeated_id",
                    "message": f"repeats events[{first_at[event.event_id]}].event_id",
                }
            )
        else:
            first_at[event.event_id] = i
    known: dict[int, bool] = {}
    for i, event in enumerate(events):
        if event.consumer_id not in known:
            known[event.consumer_id] = _consumer_exists(db, event.consumer_id)
        if not known[event.consumer_id]:
            errors.append(
                {
                    "path": f"events[{i}].consumer_id",
                    "code": "customer_event.unknown_consumer",
                    "message": f"no consumer {event.consumer_id}",
                }
            )
    return errors


def _consumer_exists(db: Session, consumer_id: int) -> bool:
    try:
        consumers.get_consumer(db, consumer_id)
    except NotFound:
        return False
    return True


def external_event_id(merchant_id: int, external_id: str) -> str:
    return f"ext:{merchant_id}:{external_id}"


def ingest(
    db: Session, actor: Principal, batch: CustomerEventBatch, *, now: datetime | None = None
) -> IngestResult:
    """Store and emit the batch's new events; events received before are duplicates."""
    merchant_id = merchant_for(db, actor, batch.merchant_id)
    errors = _check_batch(db, batch.events, now or utcnow())
    if errors:
        raise _refuse(errors)
    rows = [
        {
            "external_id": e.event_id,
            "consumer_id": e.consumer_id,
            "name": e.name,
            "occurred_at": as_utc(e.occurred_at),
        }
        for e in batch.events
    ]
    accepted = ProfileRepository(db, actor.tenant).record_receipts(merchant_id, rows)
    for e in batch.events:
        if e.event_id in accepted:
            emit(
                db,
                CustomerEvent(
                    event_id=external_event_id(merchant_id, e.event_id),
                    occurred_at=as_utc(e.occurred_at),
                    merchant_id=merchant_id,
                    consumer_id=e.consumer_id,
                    amount=e.amount_fen,
                    name=e.name,
                    channel=e.channel.value if e.channel else None,
                    external_id=e.event_id,
                    properties=e.properties,
                ),
            )
    ids = [e.event_id for e in batch.events]
    return IngestResult(
        merchant_id=merchant_id,
        accepted=len(accepted),
        duplicates=len(ids) - len(accepted),
        accepted_ids=[i for i in ids if i in accepted],
        duplicate_ids=[i for i in ids if i not in accepted],
    )


# --- profiles ---------------------------------------------------------------------------


def _rows(expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def list_profiles(
    db: Session,
    analytics: Any,
    actor: Principal,
    *,
    merchant_id: int | None = None,
    segment: str | None = None,
    min_orders: int = 0,
    sort: str = "last_seen",
    limit: int = 50,
    offset: int = 0,
    now: datetime | None = None,
) -> ProfilePage:
    """The merchant's customers, most recent (or most valuable) first."""
    import ibis

    merchant_id = merchant_for(db, actor, merchant_id)
    if analytics is None:
        return ProfilePage(merchant_id=merchant_id, total=0, limit=limit, offset=offset, items=[])
    p = queries.profile_table(analytics.events_table(), merchant_id, now or utcnow())
    if segment is not None:
        p = p.filter(p.rfm_segment == segment)
    if min_orders:
        p = p.filter(p.orders >= min_orders)
    total = int(p.count().to_pyarrow().as_py())
    key = queries.SORTS[sort]
    page = p.order_by([ibis.desc(key), ibis.asc("consumer_id")]).limit(limit, offset=offset)
    items = [CustomerProfile.model_validate(r) for r in _rows(page)]
    return ProfilePage(
        merchant_id=merchant_id, total=total, limit=limit, offset=offset, items=items
    )


def get_profile(
    db: Session,
    analytics: Any,
    actor: Principal,
    consumer_id: int,
    *,
    merchant_id: int | None = None,
    events: int = 50,
    now: datetime | None = None,
) -> ProfileDetail:
    """One customer's profile and recent events; 404 unless they have events with the
    merchant (a merchant sees only its own customers)."""
    merchant_id = merchant_for(db, actor, merchant_id)
    missing = NotFound(
        "no customer with this id has events with this merchant",
        code="customer_profile.not_found",
    )
    if analytics is None:
        raise missing
    table = analytics.events_table()
    p = queries.profile_table(table, merchant_id, now or utcnow())
    rows = _rows(p.filter(p.consumer_id == consumer_id))
    if not rows:
        raise missing
    timeline = [
        TimelineEvent(**{**r, "payload": _payload(r["payload"])})
        for r in _rows(queries.timeline(table, merchant_id, consumer_id, events))
    ]
    return ProfileDetail(
        merchant_id=merchant_id,
        profile=CustomerProfile.model_validate(rows[0]),
        timeline=timeline,
    )


def _payload(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    loaded = json.loads(text) if text else {}
    return loaded if isinstance(loaded, dict) else {}


def rfm_distribution(
    db: Session,
    analytics: Any,
    actor: Principal,
    *,
    merchant_id: int | None = None,
    now: datetime | None = None,
) -> RfmDistribution:
    merchant_id = merchant_for(db, actor, merchant_id)
    counts: dict[str, tuple[int, int]] = {}
    if analytics is not None:
        summary = queries.rfm_summary(analytics.events_table(), merchant_id, now or utcnow())
        counts = {
            r["rfm_segment"]: (int(r["customers"]), int(r["gmv_fen"] or 0)) for r in _rows(summary)
        }
    buckets = [
        RfmBucket(segment=s, customers=counts.get(s, (0, 0))[0], gmv_fen=counts.get(s, (0, 0))[1])
        for s in queries.SEGMENTS
    ]
    return RfmDistribution(
        merchant_id=merchant_id,
        customers=sum(b.customers for b in buckets),
        segments=buckets,
        labels=[
            RfmLabelOut(segment=row.label.value, r=row.r, f=row.f, m=row.m)
            for row in queries.RFM_LABELS
        ],
    )


def receipts_count(db: Session, tenant: Tenant, merchant_id: int) -> int:
    """Events this merchant has sent through the API (received, not duplicates)."""
    return ProfileRepository(db, tenant).receipt_count(merchant_id)
