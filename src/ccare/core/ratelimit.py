"""Per-key rate limits with the generic cell rate algorithm (GCRA).

A key's whole state is one number, its theoretical arrival time (TAT): the moment the
bucket would be full again. Each request of cost `c` pushes it `c` emission intervals
(window / limit) ahead; a request is allowed when the new TAT is at most one window
ahead of now, so a full bucket takes `limit` requests at once and refills steadily.

Times are whole microseconds so that this module and the Redis script (Lua numbers are
doubles, exact up to 2**53, i.e. epoch microseconds) compute identical decisions.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

from ccare.core.redis_pool import redis_client

MICROS = 1_000_000
REDIS_KEY_PREFIX = "ccare:rl:"


@dataclass(frozen=True)
class RateLimit:
    limit: int
    window_seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("a rate limit allows at least one request per window")
        if self.window_seconds <= 0:
            raise ValueError("a rate limit window must be positive")

    @property
    def interval_us(self) -> int:
        return max(1, round(self.window_seconds * MICROS) // self.limit)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    # math.inf when the cost exceeds the limit: waiting never makes such a request fit.
    retry_after: float

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_after)),
        }
        if not self.allowed and math.isfinite(self.retry_after):
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class RateLimiter(Protocol):
    def hit(
        self, key: str, limit: RateLimit, cost: int = 1, now: float | None = None
    ) -> RateDecision: ...


def _check_cost(cost: int) -> None:
    if cost < 0:
        raise ValueError("cost must not be negative")


def _decision(
    limit: RateLimit, allowed: bool, remaining: int, reset_us: int, retry_us: int | None
) -> RateDecision:
    return RateDecision(
        allowed=allowed,
        limit=limit.limit,
        remaining=max(0, remaining),
        reset_after=max(0, reset_us) / MICROS,
        retry_after=math.inf if retry_us is None else retry_us / MICROS,
    )


def _gcra(
    tat_us: int | None, now_us: int, limit: RateLimit, cost: int
) -> tuple[RateDecision, int | None]:
    """The decision for one hit and the TAT to store (None: leave the state unchanged)."""
    interval = limit.interval_us
    capacity = limit.limit * interval
    tat = now_us if tat_us is None else max(tat_us, now_us)
    new_tat = tat + cost * interval
    if cost > limit.limit:
        remaining = (capacity - (tat - now_us)) // interval
        return _decision(limit, False, remaining, tat - now_us, None), None
    allow_at = new_tat - capacity
    if now_us < allow_at:
        remaining = (capacity - (tat - now_us)) // interval
        return _decision(limit, False, remaining, tat - now_us, allow_at - now_us), None
    remaining = (capacity - (new_tat - now_us)) // interval
    decision = _decision(limit, True, remaining, new_tat - now_us, 0)
    return decision, (new_tat if cost else None)


def _micros(now: float) -> int:
    return round(now * MICROS)


class InProcessRateLimiter:
    """One process's limiter; keys whose bucket is full again are dropped in sweeps.

    A sweep runs after `max(sweep_every, number of keys)` hits, so its cost stays
    constant per hit however many keys are live.
    """

    def __init__(self, sweep_every: int = 1024) -> None:
        self._lock = threading.Lock()
        self._tats: dict[str, int] = {}
        self._sweep_every = sweep_every
        self._hits_since_sweep = 0

    def __len__(self) -> int:
        return len(self._tats)

    def hit(
        self, key: str, limit: RateLimit, cost: int = 1, now: float | None = None
    ) -> RateDecision:
        _check_cost(cost)
        with self._lock:
            now_us = time.monotonic_ns() // 1000 if now is None else _micros(now)
            self._hits_since_sweep += 1
            if self._hits_since_sweep >= max(self._sweep_every, len(self._tats)):
                self._tats = {k: tat for k, tat in self._tats.items() if tat > now_us}
                self._hits_since_sweep = 0
            decision, new_tat = _gcra(self._tats.get(key), now_us, limit, cost)
            if new_tat is not None:
                self._tats[key] = new_tat
            return decision


# Mirrors _gcra() above. Numbers going back to Redis are formatted with %.0f because Lua's
# default conversion keeps only 14 significant digits, too few for epoch microseconds.
_GCRA_LUA = """
local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[4])
end
local capacity = limit * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
if cost > limit then
  return {0, math.floor((capacity - (tat - now)) / interval), tat - now, -1}
end
local allow_at = new_tat - capacity
if now < allow_at then
  return {0, math.floor((capacity - (tat - now)) / interval), tat - now, allow_at - now}
end
if cost > 0 then
  local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
             'PX', string.format('%.0f', ttl_ms))
end
return {1, math.floor((capacity - (new_tat - now)) / interval), new_tat - now, 0}
"""


class RedisRateLimiter:
    """Shared by every process on one Redis; without `now` the Redis server's clock rules."""

    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_GCRA_LUA)

    def hit(
        self, key: str, limit: RateLimit, cost: int = 1, now: float | None = None
    ) -> RateDecision:
        _check_cost(cost)
        args = [limit.limit, limit.interval_us, cost, "" if now is None else _micros(now)]
        allowed, remaining, reset_us, retry_us = self._script(
            keys=[REDIS_KEY_PREFIX + key], args=args
        )
        retry = None if retry_us < 0 else int(retry_us)
        return _decision(limit, bool(allowed), int(remaining), int(reset_us), retry)


def open_rate_limiter(redis_url: str | None) -> RateLimiter:
    if not redis_url:
        return InProcessRateLimiter()
    return RedisRateLimiter(redis_client(redis_url))
