"""Segments: estimate, save (idempotent), change, delete, refresh, and read members.

Other products read a segment through `members()` or `member_batches()` (campaigns send
to them); the membership is what the last successful computation found.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, DomainError, NotFound
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import utcnow
from ccare.merchants import service as merchants
from ccare.segments import materialise, rules
from ccare.segments.models import Segment, SegmentSize
from ccare.segments.repository import SegmentRepository
from ccare.segments.schemas import (
    EstimateOut,
    EstimateRequest,
    SegmentCreate,
    SegmentOut,
    SegmentUpdate,
)

BATCH = 10_000


class RefreshFailed(DomainError):
    """The computation failed: the error is recorded on the segment (this error's writes
    commit) and the previous members stay."""

    status_code = 503
    code = "segment.refresh_failed"
    commits = True


def merchant_for(db: Session, actor: Principal, requested: int | None) -> int:
    return merchants.merchant_for(db, actor, requested, code="segment.merchant_required")


def canonical(rule: rules.RuleNode) -> dict[str, Any]:
    """The rule as stored and compared: the keys the caller gave, values normalised."""
    dumped: dict[str, Any] = rule.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


def rule_schema() -> dict[str, Any]:
    return rules.json_schema()


def estimate(
    db: Session,
    actor: Principal,
    analytics: Any,
    data: EstimateRequest,
    now: datetime | None = None,
) -> EstimateOut:
    merchant_id = merchant_for(db, actor, data.merchant_id)
    rule = rules.parse(data.rule)
    now = now or utcnow()
    started = time.perf_counter()
    size = materialise.count(analytics, rule, merchant_id, now)
    ms = int((time.perf_counter() - started) * 1000)
    return EstimateOut(merchant_id=merchant_id, size=size, computed_at=now, compute_ms=ms)


def get(db: Session, tenant: Tenant, segment_id: int) -> Segment:
    segment = SegmentRepository(db, tenant).segment(segment_id)
    if segment is None:
        raise NotFound("no such segment", code="segment.not_found", segment_id=segment_id)
    return segment


def list_segments(db: Session, tenant: Tenant, merchant_id: int | None = None) -> list[Segment]:
    return SegmentRepository(db, tenant).segments(merchant_id)


def _same_request(segment: Segment, data: SegmentCreate, rule: dict[str, Any]) -> bool:
    return (
        segment.name == data.name
        and segment.rule == rule
        and segment.refresh_every_minutes == data.refresh_every_minutes
    )


def create(
    db: Session,
    actor: Principal,
    analytics: Any,
    data: SegmentCreate,
    now: datetime | None = None,
) -> tuple[Segment, bool]:
    """Save and compute a segment; (segment, created). The same out_request_no, or the
    same name without one, with the same content returns the segment saved before."""
    merchant_id = merchant_for(db, actor, data.merchant_id)
    merchants.require_manager(actor)
    rule = canonical(rules.parse(data.rule))
    repo = SegmentRepository(db, actor.tenant)
    if data.out_request_no is not None:
        existing = repo.by_request_no(merchant_id, data.out_request_no)
        if existing is not None:
            if not _same_request(existing, data, rule):
                raise Conflict(
                    "this out_request_no saved a segment with other content",
                    code="segment.out_request_no_reused",
                    segment_id=existing.id,
                )
            return existing, False
    existing = repo.by_name(merchant_id, data.name)
    if existing is not None:
        if data.out_request_no is None and _same_request(existing, data, rule):
            return existing, False
        raise Conflict(
            "a segment of this name exists", code="segment.name_taken", segment_id=existing.id
        )
    segment = Segment(
        merchant_id=merchant_id,
        name=data.name,
        out_request_no=data.out_request_no,
        rule=rule,
        refresh_every_minutes=data.refresh_every_minutes,
    )
    repo.add(segment)
    materialise.refresh_in(db, segment, analytics, now or utcnow())
    return segment, True


def update(
    db: Session,
    actor: Principal,
    analytics: Any,
    segment_id: int,
    data: SegmentUpdate,
    now: datetime | None = None,
) -> Segment:
    """Rename, change the rule (recomputed at once) or the schedule."""
    segment = get(db, actor.tenant, segment_id)
    merchants.require_manager(actor)
    repo = SegmentRepository(db, actor.tenant)
    now = now or utcnow()
    if data.name is not None and data.name != segment.name:
        taken = repo.by_name(segment.merchant_id, data.name)
        if taken is not None:
            raise Conflict(
                "a segment of this name exists", code="segment.name_taken", segment_id=taken.id
            )
        segment.name = data.name
    if "refresh_every_minutes" in data.model_fields_set:
        segment.refresh_every_minutes = data.refresh_every_minutes
        materialise.schedule(segment, now)
    if data.rule is not None:
        rule = canonical(rules.parse(data.rule))
        if rule != segment.rule:
            segment.rule = rule
            segment.version += 1
            db.flush()
            materialise.refresh_in(db, segment, analytics, now)
    db.flush()
    return segment


def delete(db: Session, actor: Principal, segment_id: int) -> None:
    segment = get(db, actor.tenant, segment_id)
    merchants.require_manager(actor)
    SegmentRepository(db, actor.tenant).delete(segment)


def refresh(
    db: Session, actor: Principal, analytics: Any, segment_id: int, now: datetime | None = None
) -> Segment:
    segment = get(db, actor.tenant, segment_id)
    merchants.require_manager(actor)
    if not materialise.refresh_in(db, segment, analytics, now or utcnow()):
        db.flush()
        raise RefreshFailed(
            f"the segment could not be computed; its members are those of the last"
            f" computation: {segment.last_error}",
            segment_id=segment.id,
            error=segment.last_error,
        )
    return segment


def sizes(db: Session, tenant: Tenant, segment_id: int, limit: int = 90) -> list[SegmentSize]:
    get(db, tenant, segment_id)
    return SegmentRepository(db, tenant).sizes(segment_id, limit)


# --- members: what other products call ------------------------------------------------


def members(db: Session, tenant: Tenant, segment_id: int) -> list[int]:
    """The segment's consumer ids, ascending, as last computed."""
    get(db, tenant, segment_id)
    return SegmentRepository(db, tenant).member_ids(segment_id)


def segments_of(db: Session, consumer_id: int) -> frozenset[int]:
    """Every segment (of any merchant) the consumer was in when last computed: the ad
    server's targeting input, platform-level."""
    return frozenset(SegmentRepository(db).segments_of(consumer_id))


def member_batches(
    db: Session, tenant: Tenant, segment_id: int, batch: int = BATCH
) -> Iterator[list[int]]:
    """The same members, `batch` at a time: for segments too large to hold at once."""
    get(db, tenant, segment_id)
    return SegmentRepository(db, tenant).member_batches(segment_id, batch)


def members_csv(db: Session, tenant: Tenant, segment_id: int) -> str:
    lines = ["consumer_id"]
    for ids in member_batches(db, tenant, segment_id):
        lines.extend(str(i) for i in ids)
    return "\n".join(lines) + "\n"


def segment_out(segment: Segment) -> SegmentOut:
    if segment.last_error is not None:
        status = "failed"
    elif segment.last_computed_at is None:
        status = "pending"
    else:
        status = "ready"
    return SegmentOut.model_validate({**_columns(segment), "status": status})


def _columns(segment: Segment) -> dict[str, Any]:
    return {c: getattr(segment, c) for c in SegmentOut.model_fields if c != "status"}


def member_page(db: Session, tenant: Tenant, segment_id: int, after: int, limit: int) -> list[int]:
    get(db, tenant, segment_id)
    return SegmentRepository(db, tenant).member_page(segment_id, after, limit)
