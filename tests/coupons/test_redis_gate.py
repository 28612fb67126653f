"""The Redis claim gate (production mode): Redis answers the crowd, the database keeps the
record and the last word; lost keys load from the database; rolled-back claims give back
what they took."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from ccare.core.db import Database
from ccare.core.errors import Conflict, DomainError
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
from ccare.coupons import claims, risk, service
from ccare.coupons.antifraud import Strictness
from ccare.coupons.gate import PREFIX, Limit, gate_for, stock_key
from ccare.coupons.models import Channel
from ccare.coupons.pricing import CouponKind
from ccare.coupons.schemas import ActivityCreate, ClaimRequest, UserLimits, ValiditySpec
from ccare.runtime import Runtime
from ccare.web.app import create_app
from tests.coupons.test_activities import activity
from tests.factories import consumer_login, login, make_consumer, make_merchant


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(PREFIX + "*"):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture
def gated(runtime: Runtime, redis_url: str, redis_client: redis.Redis) -> Iterator[TestClient]:
    runtime.settings = runtime.settings.model_copy(update={"redis_url": redis_url})
    with TestClient(create_app(runtime)) as c:
        yield c


def _owner(client: TestClient, db: Database) -> dict[str, str]:
    merchant = make_merchant(db)
    owner = login(client, merchant.owner_email, merchant.password)
    r = client.put("/api/v1/coupon-settings", json={"strictness": "off"}, headers=owner)
    assert r.status_code == 200, r.text
    return owner


def _activity(client: TestClient, owner: dict[str, str], **overrides: Any) -> int:
    r = client.post("/api/v1/coupon-activities", json=activity(**overrides), headers=owner)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _claim(client: TestClient, aid: int, who: dict[str, str], key: str) -> Any:
    return client.post(
        f"/api/v1/coupon-activities/{aid}/claim",
        json={"channel": "coupon_venue", "claim_key": key},
        headers=who,
    )


def _int(client: redis.Redis, key: str) -> int | None:
    value = client.get(key)
    return int(value) if value is not None else None


def test_claims_go_through_redis_and_lost_keys_load_from_the_database(
    gated: TestClient, db: Database, redis_client: redis.Redis
) -> None:
    owner = _owner(gated, db)
    aid = _activity(gated, owner, quantity=4, user_limits={"lifetime": 2})
    alice = consumer_login(gated, make_consumer(db))
    bob = consumer_login(gated, make_consumer(db))

    first = [_claim(gated, aid, alice, k).status_code for k in ("a1", "a2")]
    assert _int(redis_client, stock_key(aid)) == 2
    for key in redis_client.scan_iter(PREFIX + "*"):  # Redis restarts empty
        redis_client.delete(key)
    after = [_claim(gated, aid, alice, "a3"), _claim(gated, aid, bob, "b1")]
    last = [_claim(gated, aid, bob, k) for k in ("b2", "b3")]

    assert first == [200, 200]
    # Alice's count and the stock came back from the database's records.
    assert (after[0].status_code, after[0].json()["code"]) == (409, "coupon.user_limit_reached")
    assert after[1].status_code == 200
    assert [r.status_code for r in last] == [200, 409]
    assert last[1].json()["code"] == "coupon.stock_exhausted"
    assert _int(redis_client, stock_key(aid)) == 0
    got = gated.get(f"/api/v1/coupon-activities/{aid}", headers=owner).json()
    assert (got["issued"], got["remaining"]) == (4, 0)


def test_a_claim_that_rolls_back_gives_back_what_it_took(
    gated: TestClient, db: Database, redis_client: redis.Redis
) -> None:
    owner = _owner(gated, db)
    aid = _activity(gated, owner, quantity=3, code_mode="merchant_upload")
    buyer = consumer_login(gated, make_consumer(db))

    refused = _claim(gated, aid, buyer, "k1")  # no codes deposited: refused after Redis

    assert (refused.status_code, refused.json()["code"]) == (409, "coupon.codes_exhausted")
    assert _int(redis_client, stock_key(aid)) == 3


def test_when_redis_drifted_above_the_database_the_database_refuses_and_redis_learns(
    gated: TestClient, db: Database, redis_client: redis.Redis
) -> None:
    owner = _owner(gated, db)
    aid = _activity(gated, owner, quantity=1)
    buyers = [consumer_login(gated, make_consumer(db)) for _ in range(2)]
    assert _claim(gated, aid, buyers[0], "k").status_code == 200
    redis_client.set(stock_key(aid), 5)  # e.g. restored from an old snapshot

    refused = _claim(gated, aid, buyers[1], "k")

    assert (refused.status_code, refused.json()["code"]) == (409, "coupon.stock_exhausted")
    assert _int(redis_client, stock_key(aid)) == 0
    assert gated.get(f"/api/v1/coupon-activities/{aid}", headers=owner).json()["issued"] == 1


def test_racing_claims_through_redis_issue_exactly_the_stock(
    postgres: Database, redis_url: str, redis_client: redis.Redis
) -> None:
    db = postgres
    merchant = make_merchant(db)
    operator = Principal(kind=PrincipalKind.OPERATOR, id=0, name="test", tenant=PLATFORM)
    data = ActivityCreate(
        out_biz_no="race",
        merchant_id=merchant.merchant_id,
        name="Race",
        kind=CouponKind.FIXED,
        amount_fen=100,
        quantity=150,
        user_limits=UserLimits(lifetime=3),
        claim_begin=datetime(2026, 1, 1, tzinfo=UTC),
        claim_end=datetime(2099, 1, 1, tzinfo=UTC),
        validity=ValiditySpec(days_after_claim=30),
        activate=True,
    )
    with db.transaction() as s:
        risk.set_strictness(s, operator, merchant.merchant_id, Strictness.OFF)
        aid = service.create_activity(s, operator, data).id
    gate = gate_for(redis_url)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(worker: int) -> None:
        for n in range(worker, 600, 12):
            consumer = Principal(kind=PrincipalKind.CONSUMER, id=1 + n % 70)
            request = ClaimRequest(channel=Channel.COUPON_VENUE, claim_key=f"t{n}")
            try:
                with db.transaction() as s:
                    claims.claim(s, consumer, aid, request, gate=gate)
                result = "issued"
            except DomainError as err:
                result = err.code
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(w,)) for w in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert outcomes["issued"] == 150
    assert set(outcomes) <= {"issued", "coupon.stock_exhausted", "coupon.user_limit_reached"}
    assert _int(redis_client, stock_key(aid)) == 0
    with db.transaction() as s:
        per_user = Counter(c.consumer_id for c in claims.activity_coupons(s, PLATFORM, aid))
    assert max(per_user.values()) <= 3
    assert sum(per_user.values()) == 150


def test_the_gate_at_issue_scale_admits_exactly_the_stock(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """10,000 coupons, 200 concurrent clients, 50,000 attempts by 4,000 users with a
    lifetime limit of 3; one admitted claim in ten then rolls back and gives back what it
    took. Exactly 10,000 stay admitted and no user keeps more than 3."""
    # Only for real transactions to roll back: a fresh in-memory database per session.
    engine = create_engine("sqlite://", poolclass=NullPool)
    gate = gate_for(redis_url)
    assert gate is not None
    activity_id, stock, limit, users, clients, attempts = 987_654_321, 10_000, 3, 4_000, 200, 50_000
    kept: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def user_limit(user: int) -> Limit:
        refusal = Conflict("limit", code="coupon.user_limit_reached")
        return Limit(f"user:{user}:life", limit, lambda: 0, refusal)

    def client(worker: int) -> None:
        start.wait()
        for n in range(worker, attempts, clients):
            user = (n * 7919) % users
            with Session(engine) as session:
                session.connection()  # a transaction the claim's give-back hangs on
                try:
                    gate.admit(session, activity_id, lambda: stock, [user_limit(user)])
                except Conflict as refusal:
                    result = refusal.code
                else:
                    if n % 10 == 0:
                        session.rollback()
                        result = "rolled_back"
                    else:
                        session.commit()
                        result = "kept"
                        with lock:
                            kept[user] += 1
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)

    assert sum(outcomes.values()) == attempts
    assert sum(kept.values()) == outcomes["kept"] == stock
    assert max(kept.values()) == limit
    assert set(outcomes) == {
        "kept",
        "rolled_back",
        "coupon.stock_exhausted",
        "coupon.user_limit_reached",
    }
    assert _int(redis_client, stock_key(activity_id)) == 0
    for user in (0, 1, 2, 3999):
        assert _int(redis_client, f"{PREFIX}{activity_id}:user:{user}:life") == kept[user]
