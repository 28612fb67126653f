"""The scheduled refresh of segments, run by the worker beside the relay."""

from __future__ import annotations

import threading
import time
from typing import Any

from ccare.config import Settings
from ccare.core.analytics import DuckDBAnalytics, PostgresAnalytics
from ccare.core.db import Database
from ccare.core.worker import poller
from ccare.segments import materialise

# Due segments are looked for at most this often; each call refreshes a few of them.
CHECK_EVERY_SECONDS = 30.0

_stores: dict[str, Any] = {}
_lock = threading.Lock()
_next_check: dict[str, float] = {}


def analytics_for(settings: Settings) -> Any:
    """The analytics store of this process's settings, opened once.

    Pollers are handed the database and settings only. A DuckDB file opened again in the
    process that already holds it shares that database (DuckDB keeps one instance per
    file per process), which is the worker's own process in the embedded mode. An
    in-memory store is private to its connection, so there is nothing to refresh from.
    """
    key = settings.analytics_url or settings.effective_analytics_path
    if not settings.analytics_url and key == ":memory:":
        return None
    with _lock:
        if key not in _stores:
            _stores[key] = (
                PostgresAnalytics(settings.analytics_url)
                if settings.analytics_url
                else DuckDBAnalytics(key)
            )
        return _stores[key]


@poller("segments.refresh")
def refresh_due(db: Database, settings: Settings) -> int:
    now = time.monotonic()
    if now < _next_check.get(db.url, 0.0):
        return 0
    analytics = analytics_for(settings)
    if analytics is None:
        _next_check[db.url] = now + CHECK_EVERY_SECONDS
        return 0
    done = materialise.refresh_due(db, analytics)
    if not done:
        _next_check[db.url] = now + CHECK_EVERY_SECONDS
    return done
