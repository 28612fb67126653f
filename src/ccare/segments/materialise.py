"""Computing a segment on the analytics store and keeping its members in the OLTP table.

A computation either replaces the membership (as a diff: only joiners and leavers are
written) and appends a size to the history, or records its error and keeps the previous
membership untouched. Scheduled refreshes compute outside any transaction, so the
database is not held while the analytics store works.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM
from ccare.core.time import utcnow
from ccare.segments.compiler import members_expr, size_expr
from ccare.segments.models import Segment, SegmentSize
from ccare.segments.repository import SegmentRepository
from ccare.segments.rules import RuleNode, parse
from ccare.segments.schemas import SegmentRefreshed

log = logging.getLogger(__name__)


class AnalyticsUnavailable(DomainError):
    status_code = 503
    code = "segment.analytics_unavailable"


@dataclass(frozen=True)
class Computed:
    consumer_ids: list[int] | None
    error: str | None
    ms: int


def _events(analytics: Any) -> Any:
    if analytics is None:
        raise AnalyticsUnavailable("this process has no analytics store")
    return analytics.events_table()


def count(analytics: Any, rule: RuleNode, merchant_id: int, now: datetime) -> int:
    try:
        return int(size_expr(_events(analytics), rule, merchant_id, now).execute())
    except DomainError:
        raise
    except Exception as exc:
        log.exception("segment estimate failed")
        raise AnalyticsUnavailable(f"the analytics store failed: {describe(exc)}") from None


def describe(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:500]


def compute(
    analytics: Any, rule: RuleNode | dict[str, Any], merchant_id: int, now: datetime
) -> Computed:
    """The members of the rule now, or the error that stopped the computation (a stored
    rule the rule language no longer accepts is such an error too)."""
    started = time.perf_counter()
    try:
        node = rule if isinstance(rule, RuleNode) else parse(rule)
        expr = members_expr(_events(analytics), node, merchant_id, now)
        ids = [int(c) for c in expr.to_pyarrow().column("consumer_id").to_pylist()]
        error = None
    except Exception as exc:
        log.warning("segment computation failed for merchant %s", merchant_id, exc_info=True)
        ids, error = None, describe(exc)
    return Computed(ids, error, int((time.perf_counter() - started) * 1000))


def schedule(segment: Segment, now: datetime) -> None:
    every = segment.refresh_every_minutes
    segment.next_refresh_at = now + timedelta(minutes=every) if every else None


def apply(db: Session, segment: Segment, result: Computed, now: datetime) -> bool:
    """Write a computation's outcome on the segment; True when it succeeded."""
    repo = SegmentRepository(db, PLATFORM)
    schedule(segment, now)
    if result.consumer_ids is None:
        segment.last_error = result.error or "unknown error"
        segment.last_error_at = now
        return False
    current = set(repo.member_ids(segment.id))
    wanted = set(result.consumer_ids)
    joined, left = sorted(wanted - current), sorted(current - wanted)
    repo.remove_members(segment, left)
    repo.add_members(segment, joined)
    segment.size = len(wanted)
    segment.last_computed_at = now
    segment.compute_ms = result.ms
    segment.last_error = None
    segment.last_error_at = None
    repo.add(
        SegmentSize(
            segment_id=segment.id,
            merchant_id=segment.merchant_id,
            computed_at=now,
            size=len(wanted),
            added=len(joined),
            removed=len(left),
        )
    )
    emit(
        db,
        SegmentRefreshed(
            merchant_id=segment.merchant_id,
            segment_id=segment.id,
            size=len(wanted),
            added=len(joined),
            removed=len(left),
            occurred_at=now,
        ),
    )
    return True


def refresh_in(db: Session, segment: Segment, analytics: Any, now: datetime) -> bool:
    """Compute and apply within the caller's transaction."""
    result = compute(analytics, segment.rule, segment.merchant_id, now)
    return apply(db, segment, result, now)


def refresh_due(db: Database, analytics: Any, now: datetime | None = None, limit: int = 5) -> int:
    """Refresh up to `limit` segments whose schedule is due; returns how many ran.

    Each is claimed first (its next refresh moved ahead, committed), computed with no
    transaction open, then applied in a second transaction unless its rule changed since.
    """
    now = now or utcnow()
    claimed: list[tuple[int, dict[str, Any], int, int]] = []
    with db.transaction() as session:
        repo = SegmentRepository(session, PLATFORM)
        for segment_id in repo.due(now, limit):
            segment = repo.segment(segment_id)
            if segment is None:
                continue
            schedule(segment, now)
            claimed.append((segment.id, segment.rule, segment.version, segment.merchant_id))
    for segment_id, rule, version, merchant_id in claimed:
        result = compute(analytics, rule, merchant_id, now)
        with db.transaction() as session:
            segment = SegmentRepository(session, PLATFORM).segment(segment_id, lock=True)
            if segment is not None and segment.version == version:
                apply(session, segment, result, now)
    return len(claimed)
