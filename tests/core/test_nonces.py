"""Nonce stores: one claim per nonce while its time to live lasts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis as redis_lib

from ccare.core.nonces import (
    REDIS_KEY_PREFIX,
    InProcessNonceStore,
    NonceStore,
    RedisNonceStore,
    open_nonce_store,
)


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
def store(request: pytest.FixtureRequest) -> NonceStore:
    if request.param == "memory":
        return InProcessNonceStore()
    return RedisNonceStore(request.getfixturevalue("redis_client"))


def test_a_nonce_is_claimed_once_and_other_nonces_are_unaffected(
    store: NonceStore, ns: str
) -> None:
    assert store.claim(f"{ns}:app-1:n1", 300) is True
    assert store.claim(f"{ns}:app-1:n1", 300) is False
    assert store.claim(f"{ns}:app-1:n2", 300) is True
    assert store.claim(f"{ns}:app-2:n1", 300) is True


def test_concurrent_claims_of_one_nonce_have_exactly_one_winner(store: NonceStore, ns: str) -> None:
    start = threading.Barrier(32)
    results: list[bool] = []

    def claim() -> None:
        start.wait()
        results.append(store.claim(f"{ns}:same", 300))

    threads = [threading.Thread(target=claim) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 31 + [True]


@pytest.mark.parametrize("ttl", [0.0, -1.0])
def test_a_time_to_live_must_be_positive(store: NonceStore, ns: str, ttl: float) -> None:
    with pytest.raises(ValueError, match="time to live must be positive"):
        store.claim(ns, ttl)


def test_in_process_nonce_is_free_again_exactly_when_its_ttl_ends() -> None:
    store = InProcessNonceStore()
    assert store.claim("n", 300, now=1000.0) is True
    assert store.claim("n", 300, now=1299.999) is False
    assert store.claim("n", 300, now=1300.0) is True
    assert store.claim("n", 300, now=1599.0) is False


def test_in_process_store_forgets_expired_nonces() -> None:
    store = InProcessNonceStore()
    for second in range(1000):
        assert store.claim(f"n{second}", 1.0, now=float(second)) is True
    assert len(store) == 1


def test_in_process_store_at_capacity_accepts_and_forgets_the_soonest_to_expire() -> None:
    store = InProcessNonceStore(max_entries=3)
    assert [store.claim(k, ttl, now=0.0) for k, ttl in [("a", 30), ("b", 10), ("c", 20)]] == [
        True,
        True,
        True,
    ]
    assert store.claim("d", 40, now=0.0) is True
    assert len(store) == 3
    assert [store.claim(k, 60, now=0.0) for k in "acd"] == [False, False, False]
    assert store.claim("b", 50, now=0.0) is True
    assert [store.claim(k, 60, now=0.0) for k in "adb"] == [False, False, False]
    assert store.claim("c", 60, now=0.0) is True
    assert len(store) == 3


def test_in_process_store_needs_room_for_one_nonce() -> None:
    with pytest.raises(ValueError, match="max_entries must be at least 1"):
        InProcessNonceStore(max_entries=0)


@pytest.mark.redis
def test_redis_nonce_expires_with_its_ttl(redis_client: redis_lib.Redis, ns: str) -> None:
    store = RedisNonceStore(redis_client)
    assert store.claim(f"{ns}:long", 300) is True
    assert 299_000 < redis_client.pttl(f"{REDIS_KEY_PREFIX}{ns}:long") <= 300_000
    assert store.claim(f"{ns}:short", 0.05) is True
    assert store.claim(f"{ns}:short", 0.05) is False
    time.sleep(0.1)
    assert store.claim(f"{ns}:short", 0.05) is True


def test_open_nonce_store_picks_the_backend_from_the_url() -> None:
    assert isinstance(open_nonce_store(None), InProcessNonceStore)
    assert isinstance(open_nonce_store(""), InProcessNonceStore)
    assert isinstance(open_nonce_store("redis://127.0.0.1:6379/15"), RedisNonceStore)
