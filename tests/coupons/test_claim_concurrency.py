"""Claims racing for the last coupons: never more issued than the stock, nobody above their
limit, a refused claim leaves nothing counted. Truly parallel on PostgreSQL; on SQLite the
same claims queue on the writer lock and must come out the same."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind
from ccare.coupons import claims, risk, service
from ccare.coupons.antifraud import Strictness
from ccare.coupons.models import Channel, ClaimCounter, Coupon, StockBucket
from ccare.coupons.pricing import CouponKind
from ccare.coupons.schemas import ActivityCreate, ClaimRequest, UserLimits, ValiditySpec
from tests.factories import make_merchant

THREADS = 16


def _activity(db: Database, quantity: int, per_user: int) -> int:
    merchant = make_merchant(db)
    owner = Principal(kind=PrincipalKind.OPERATOR, id=0, name="test", tenant=PLATFORM)
    data = ActivityCreate(
        out_biz_no="race",
        merchant_id=merchant.merchant_id,
        name="Race",
        kind=CouponKind.FIXED,
        amount_fen=100,
        quantity=quantity,
        user_limits=UserLimits(lifetime=per_user),
        claim_begin=datetime(2026, 1, 1, tzinfo=UTC),
        claim_end=datetime(2099, 1, 1, tzinfo=UTC),
        validity=ValiditySpec(days_after_claim=30),
        activate=True,
    )
    with db.transaction() as s:
        # The race is about stock and limits: the anti-cheating filter would flag these
        # accounts' claim-and-never-use habit before their limit does.
        risk.set_strictness(s, owner, merchant.merchant_id, Strictness.OFF)
        return service.create_activity(s, owner, data).id


def _race(db: Database, activity_id: int, users: int, attempts: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def run(worker: int) -> None:
        barrier.wait()
        for n in range(worker, attempts, THREADS):
            consumer = Principal(kind=PrincipalKind.CONSUMER, id=1 + n % users)
            request = ClaimRequest(channel=Channel.COUPON_VENUE, claim_key=f"try-{n}")
            try:
                with db.transaction() as s:
                    claims.claim(s, consumer, activity_id, request)
                result = "issued"
            except DomainError as err:
                result = err.code
            except Exception as exc:  # a 500-class failure must show in the assertion
                result = f"unexpected {type(exc).__name__}: {exc}"
            with lock:
                outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return outcomes


@pytest.mark.parametrize(("quantity", "users", "per_user", "attempts"), [(300, 80, 5, 900)])
def test_concurrent_claims_issue_exactly_the_stock_within_limits(
    db: Database, quantity: int, users: int, per_user: int, attempts: int
) -> None:
    activity_id = _activity(db, quantity, per_user)

    outcomes = _race(db, activity_id, users, attempts)

    with db.transaction() as s:
        per_consumer = Counter(
            s.scalars(select(Coupon.consumer_id).where(Coupon.activity_id == activity_id))
        )
        left = s.scalar(
            select(func.sum(StockBucket.remaining)).where(StockBucket.activity_id == activity_id)
        )
        negative = s.scalar(
            select(func.count()).where(
                StockBucket.activity_id == activity_id, StockBucket.remaining < 0
            )
        )
        counted = dict(
            s.execute(
                select(ClaimCounter.subject, ClaimCounter.count).where(
                    ClaimCounter.activity_id == activity_id
                )
            ).all()
        )
    assert outcomes["issued"] == quantity
    assert sum(outcomes.values()) == attempts
    assert set(outcomes) <= {"issued", "coupon.stock_exhausted", "coupon.user_limit_reached"}
    assert (sum(per_consumer.values()), left, negative) == (quantity, 0, 0)
    assert max(per_consumer.values()) <= per_user
    # Counters hold exactly the coupons issued: refused claims rolled their counts back.
    assert counted == {f"user:{c}": n for c, n in per_consumer.items()}
