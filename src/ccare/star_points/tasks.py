"""The worker's side of 繁星 points: earning from visits and favorites, and forgetting
visits older than the repeat window."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.subscribers import subscriber
from ccare.core.time import as_utc, local_date, utcnow
from ccare.core.worker import poller
from ccare.star_points import earning, rules
from ccare.star_points.repository import StarPointsRepository

PRUNE_EVERY_SECONDS = 3_600.0

_next_prune: dict[str, float] = {}


@subscriber("storefront.visited", name="star_points.earn_on_visit")
def earn_on_visit(session: Session, event: Any) -> None:
    earning.on_visit(
        session,
        event_id=event.event_id,
        consumer_id=event.consumer_id,
        mini_program_id=int(event.mini_program_id),
        channel=str(event.channel),
        at=as_utc(event.occurred_at),
    )


@subscriber("favorite.added", name="star_points.earn_on_favorite")
def earn_on_favorite(session: Session, event: Any) -> None:
    earning.on_favorite(
        session,
        event_id=event.event_id,
        consumer_id=event.consumer_id,
        mini_program_id=int(event.mini_program_id),
        at=as_utc(event.occurred_at),
    )


@poller("star_points.prune_visits")
def prune_visits(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    """Visits older than the repeat window decide nothing any more."""
    now = time.monotonic()
    if now < _next_prune.get(db.url, 0.0):
        return 0
    _next_prune[db.url] = now + PRUNE_EVERY_SECONDS
    before = local_date(utcnow()) - timedelta(days=rules.REPEAT_WINDOW_DAYS + 1)
    with db.transaction() as session:
        return StarPointsRepository(session).prune_visits(before)
