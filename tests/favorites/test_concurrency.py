"""Concurrent taps on PostgreSQL: one favorite, one `favorite.added`, one gift coupon."""

from __future__ import annotations

import threading

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.tenancy import Principal, PrincipalKind
from ccare.favorites import service, settings
from ccare.favorites.schemas import SettingsIn
from ccare.runtime import Runtime
from tests.factories import FACTORY_OPERATOR, make_consumer, make_merchant, make_mini_program
from tests.favorites.conftest import deliver, events


def _gift_activity(db: Database, merchant_id: int) -> int:
    from datetime import UTC, datetime

    from ccare.coupons.schemas import ActivityCreate
    from ccare.coupons.service import create_activity

    data = ActivityCreate.model_validate(
        {
            "merchant_id": merchant_id,
            "out_biz_no": "gift",
            "name": "Gift",
            "kind": "fixed",
            "amount_fen": 500,
            "quantity": 10,
            "claim_begin": datetime(2026, 1, 1, tzinfo=UTC),
            "claim_end": datetime(2099, 1, 1, tzinfo=UTC),
            "validity": {"days_after_claim": 7},
            "activate": True,
        }
    )
    with db.transaction() as s:
        return create_activity(s, FACTORY_OPERATOR, data).id


def test_concurrent_first_favorites_make_one_favorite_and_one_gift(
    postgres: Database, runtime: Runtime
) -> None:
    merchant = make_merchant(postgres)
    mp = make_mini_program(postgres, merchant.merchant_id)
    gift = _gift_activity(postgres, merchant.merchant_id)
    with postgres.transaction() as s:
        settings.put_settings(s, FACTORY_OPERATOR, mp, SettingsIn(gift_activity_id=gift))
    consumer = Principal(kind=PrincipalKind.CONSUMER, id=make_consumer(postgres))
    taps = 6
    barrier = threading.Barrier(taps)
    changed: list[bool] = []
    failed: list[str] = []

    def tap() -> None:
        barrier.wait()
        try:
            with postgres.transaction() as s:
                changed.append(service.add(s, consumer, mp).changed)
        except DomainError as exc:  # a lost race may only ever be a clean conflict
            failed.append(exc.code)

    threads = [threading.Thread(target=tap) for _ in range(taps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deliver(runtime)

    assert changed.count(True) == 1
    assert set(failed) <= {"conflict.concurrent_request"}
    assert len(events(runtime, "favorite.added")) == 1
    assert [p["activity_id"] for _, _, p in events(runtime, "coupon.claimed")] == [gift]
