"""Replay protection: a nonce may be claimed once while its time to live lasts."""

from __future__ import annotations

import heapq
import math
import threading
import time
from typing import Protocol

import redis

from ccare.core.redis_pool import redis_client

REDIS_KEY_PREFIX = "ccare:nonce:"


class NonceStore(Protocol):
    def claim(self, key: str, ttl_seconds: float, now: float | None = None) -> bool:
        """True the first time `key` is seen within ttl; False for a replay."""
        ...


def _check_ttl(ttl_seconds: float) -> None:
    if ttl_seconds <= 0:
        raise ValueError("a nonce's time to live must be positive")


class InProcessNonceStore:
    """One process's nonces, held until they expire.

    When `max_entries` are live, a new nonce is still accepted and the nonce closest to
    expiring is forgotten: refusing valid calls would be worse than reopening the shortest
    replay window.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._lock = threading.Lock()
        self._max_entries = max_entries
        self._expires_at: dict[str, float] = {}
        self._by_expiry: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expires_at)

    def claim(self, key: str, ttl_seconds: float, now: float | None = None) -> bool:
        _check_ttl(ttl_seconds)
        with self._lock:
            now = time.monotonic() if now is None else now
            while self._by_expiry and self._by_expiry[0][0] <= now:
                self._forget_soonest()
            if key in self._expires_at:
                return False
            expires_at = now + ttl_seconds
            self._expires_at[key] = expires_at
            heapq.heappush(self._by_expiry, (expires_at, key))
            while len(self._expires_at) > self._max_entries:
                self._forget_soonest()
            return True

    def _forget_soonest(self) -> None:
        _, key = heapq.heappop(self._by_expiry)
        del self._expires_at[key]


class RedisNonceStore:
    """Shared by every process on one Redis; expiry follows the Redis server's clock."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    def claim(self, key: str, ttl_seconds: float, now: float | None = None) -> bool:
        _check_ttl(ttl_seconds)
        ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        return bool(self._client.set(REDIS_KEY_PREFIX + key, b"1", nx=True, px=ttl_ms))


def open_nonce_store(redis_url: str | None) -> NonceStore:
    if not redis_url:
        return InProcessNonceStore()
    return RedisNonceStore(redis_client(redis_url))
