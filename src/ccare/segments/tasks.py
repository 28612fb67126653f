"""The scheduled refresh of segments, run by the worker beside the relay."""

from __future__ import annotations

import time

from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.worker import poller
from ccare.segments import materialise

# Due segments are looked for at most this often; each call refreshes a few of them.
CHECK_EVERY_SECONDS = 30.0

_next_check: dict[str, float] = {}


@poller("segments.refresh")
def refresh_due(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    """Refresh what is due from the worker's own analytics store; a worker without one
    has nothing to refresh from."""
    now = time.monotonic()
    if now < _next_check.get(db.url, 0.0):
        return 0
    done = materialise.refresh_due(db, analytics) if analytics is not None else 0
    if not done:
        _next_check[db.url] = now + CHECK_EVERY_SECONDS
    return done
