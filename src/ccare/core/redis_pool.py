"""Redis clients for the request path: a bounded pool that waits for a free connection.

redis-py's default pool raises `MaxConnectionsError` once 100 connections are in use, so a
burst of more concurrent callers than that would fail instead of queueing. A blocking pool
makes them wait (up to `WAIT_SECONDS`) for one of `MAX_CONNECTIONS`; Redis answers in well
under a millisecond, so the wait is short and the server is not flooded with connections.
"""

from __future__ import annotations

import redis

MAX_CONNECTIONS = 64  # per process and URL
WAIT_SECONDS = 10


def redis_client(url: str) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=WAIT_SECONDS
    )
    return redis.Redis(connection_pool=pool)
