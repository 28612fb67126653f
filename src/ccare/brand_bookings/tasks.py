"""The worker's brand-booking job: bookings whose first day has come show as delivering,
and bookings whose last day is over are completed, each in its own transaction, with the
shortfall refunded."""

from __future__ import annotations

import time
from datetime import datetime

from ccare.brand_bookings import service
from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.time import utcnow
from ccare.core.worker import poller

# Days turn at local midnight: looking once a minute is soon enough.
CHECK_EVERY_SECONDS = 60.0

_next_check: dict[str, float] = {}


def run_due(db: Database, now: datetime) -> int:
    """Start and complete what is due at `now`; how many bookings changed."""
    with db.transaction() as session:
        changed = service.start_due(session, now)
        ids = service.ended(session, now)
    for booking_id in ids:
        with db.transaction() as session:
            changed += int(service.complete(session, booking_id, now))
    return changed


@poller("brand_bookings.complete")
def complete_ended(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    clock = time.monotonic()
    if clock < _next_check.get(db.url, 0.0):
        return 0
    changed = run_due(db, utcnow())
    if not changed:
        _next_check[db.url] = clock + CHECK_EVERY_SECONDS
    return changed
