"""GCRA rate limits: the same exact decisions in process and on Redis."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis as redis_lib

from ccare.core.ratelimit import (
    REDIS_KEY_PREFIX,
    InProcessRateLimiter,
    RateDecision,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
    open_rate_limiter,
)

# An epoch-sized clock, so the Redis script's number handling is exercised at real magnitudes.
T0 = 1_700_000_000.0
TEN_PER_TEN_SECONDS = RateLimit(10, 10.0)


@pytest.fixture
def ns() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def redis_client(redis_url: str, ns: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter(match=f"{REDIS_KEY_PREFIX}{ns}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return InProcessRateLimiter()
    return RedisRateLimiter(request.getfixturevalue("redis_client"))


def test_a_full_bucket_takes_limit_hits_then_refills_one_interval_at_a_time(
    limiter: RateLimiter, ns: str
) -> None:
    burst = [limiter.hit(ns, TEN_PER_TEN_SECONDS, now=T0) for _ in range(10)]
    assert [d.allowed for d in burst] == [True] * 10
    assert [d.remaining for d in burst] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert [d.reset_after for d in burst] == [float(n) for n in range(1, 11)]
    assert [d.retry_after for d in burst] == [0.0] * 10

    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, now=T0) == RateDecision(
        allowed=False, limit=10, remaining=0, reset_after=10.0, retry_after=1.0
    )
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, now=T0 + 0.25) == RateDecision(
        allowed=False, limit=10, remaining=0, reset_after=9.75, retry_after=0.75
    )
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, now=T0 + 1.0) == RateDecision(
        allowed=True, limit=10, remaining=0, reset_after=10.0, retry_after=0.0
    )
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, now=T0 + 5.5) == RateDecision(
        allowed=True, limit=10, remaining=3, reset_after=6.5, retry_after=0.0
    )
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, now=T0 + 60) == RateDecision(
        allowed=True, limit=10, remaining=9, reset_after=1.0, retry_after=0.0
    )


def test_fractional_intervals_stay_exact(limiter: RateLimiter, ns: str) -> None:
    per_minute = RateLimit(600, 60.0)
    first = limiter.hit(ns, per_minute, now=T0 + 0.1)
    assert first == RateDecision(True, 600, 599, 0.1, 0.0)
    for _ in range(598):
        limiter.hit(ns, per_minute, now=T0 + 0.1)
    assert limiter.hit(ns, per_minute, now=T0 + 0.1) == RateDecision(True, 600, 0, 60.0, 0.0)
    assert limiter.hit(ns, per_minute, now=T0 + 0.1) == RateDecision(False, 600, 0, 60.0, 0.1)
    assert limiter.hit(ns, per_minute, now=T0 + 0.2) == RateDecision(True, 600, 0, 60.0, 0.0)


def test_cost_takes_that_many_requests_and_a_denied_hit_takes_nothing(
    limiter: RateLimiter, ns: str
) -> None:
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, cost=4, now=T0) == RateDecision(
        True, 10, 6, 4.0, 0.0
    )
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, cost=7, now=T0) == RateDecision(
        False, 10, 6, 4.0, 1.0
    )
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, cost=0, now=T0) == RateDecision(
        True, 10, 6, 4.0, 0.0
    )
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, cost=6, now=T0) == RateDecision(
        True, 10, 0, 10.0, 0.0
    )


def test_a_cost_above_the_limit_is_always_denied_and_takes_nothing(
    limiter: RateLimiter, ns: str
) -> None:
    too_big = limiter.hit(ns, TEN_PER_TEN_SECONDS, cost=11, now=T0)
    assert too_big == RateDecision(False, 10, 10, 0.0, math.inf)
    assert too_big.headers() == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "10",
        "X-RateLimit-Reset": "0",
    }
    assert limiter.hit(ns, TEN_PER_TEN_SECONDS, now=T0) == RateDecision(True, 10, 9, 1.0, 0.0)


def test_keys_have_separate_buckets(limiter: RateLimiter, ns: str) -> None:
    one_per_minute = RateLimit(1, 60.0)
    assert limiter.hit(f"{ns}:a", one_per_minute, now=T0).allowed is True
    assert limiter.hit(f"{ns}:a", one_per_minute, now=T0).allowed is False
    assert limiter.hit(f"{ns}:b", one_per_minute, now=T0).allowed is True


def test_a_negative_cost_is_refused(limiter: RateLimiter, ns: str) -> None:
    with pytest.raises(ValueError, match="cost must not be negative"):
        limiter.hit(ns, TEN_PER_TEN_SECONDS, cost=-1, now=T0)


def _hammer(limiter: RateLimiter, key: str, threads: int, hits_each: int) -> int:
    limit = RateLimit(100, 3600.0)
    start = threading.Barrier(threads)
    allowed: list[int] = []

    def run() -> None:
        start.wait()
        allowed.append(sum(limiter.hit(key, limit).allowed for _ in range(hits_each)))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(allowed)


def test_concurrent_hits_never_exceed_the_limit(limiter: RateLimiter, ns: str) -> None:
    assert _hammer(limiter, ns, threads=50, hits_each=20) == 100


def test_headers_round_up_to_whole_seconds_and_retry_after_only_when_denied() -> None:
    assert RateDecision(True, 600, 599, 0.1, 0.0).headers() == {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "599",
        "X-RateLimit-Reset": "1",
    }
    assert RateDecision(False, 10, 0, 9.2, 2.5).headers() == {
        "X-RateLimit-Limit": "10",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "10",
        "Retry-After": "3",
    }
    assert RateDecision(False, 10, 0, 9.0, 0.0001).headers()["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("limit", "window", "message"),
    [(0, 1.0, "at least one request"), (1, 0.0, "window must be positive")],
)
def test_a_rate_limit_must_allow_something(limit: int, window: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimit(limit, window)


def test_in_process_memory_holds_only_keys_whose_bucket_is_not_yet_full() -> None:
    limiter = InProcessRateLimiter(sweep_every=10)
    one_per_second = RateLimit(1, 1.0)
    sizes = []
    for n in range(1000):
        limiter.hit(f"app-{n}", one_per_second, now=float(n))
        sizes.append(len(limiter))
    assert max(sizes) == 10
    assert len(limiter) == 1
    # A swept key starts again from a full bucket, exactly as if it had been kept.
    assert limiter.hit("app-0", one_per_second, now=1000.0) == RateDecision(True, 1, 0, 1.0, 0.0)


def test_in_process_uses_a_monotonic_clock_when_no_time_is_given() -> None:
    limiter = InProcessRateLimiter()
    two_per_fifth_second = RateLimit(2, 0.2)
    assert [limiter.hit("k", two_per_fifth_second).allowed for _ in range(3)] == [
        True,
        True,
        False,
    ]


@pytest.mark.redis
def test_redis_keys_hold_the_exact_arrival_time_and_expire_when_the_bucket_is_full(
    redis_client: redis_lib.Redis, ns: str
) -> None:
    limiter = RedisRateLimiter(redis_client)
    limiter.hit(ns, RateLimit(100, 3600.0), now=T0 + 0.000001)
    key = f"{REDIS_KEY_PREFIX}{ns}"
    assert redis_client.get(key) == b"1700000036000001"
    assert 35_000 < redis_client.pttl(key) <= 36_000


@pytest.mark.redis
def test_redis_uses_the_server_clock_when_no_time_is_given(
    redis_client: redis_lib.Redis, ns: str
) -> None:
    limiter = RedisRateLimiter(redis_client)
    two_per_fifth_second = RateLimit(2, 0.2)
    assert [limiter.hit(ns, two_per_fifth_second).allowed for _ in range(2)] == [True, True]
    denied = limiter.hit(ns, two_per_fifth_second)
    assert denied.allowed is False
    assert 0.0 < denied.retry_after <= 0.1
    time.sleep(denied.retry_after + 0.02)
    assert limiter.hit(ns, two_per_fifth_second).allowed is True


def test_open_rate_limiter_picks_the_backend_from_the_url() -> None:
    assert isinstance(open_rate_limiter(None), InProcessRateLimiter)
    assert isinstance(open_rate_limiter(""), InProcessRateLimiter)
    assert isinstance(open_rate_limiter("redis://127.0.0.1:6379/15"), RedisRateLimiter)
