"""Races only PostgreSQL runs truly in parallel: many redemptions against one balance, and
many ad servers taking free impressions from one grant."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from ccare.core.db import Database
from ccare.runtime import Runtime
from ccare.star_points import service
from ccare.star_points.models import StarPointEntry, StarPointGrant
from ccare.star_points.schemas import RedemptionCreate
from tests.concurrency import race
from tests.star_points.conftest import make_shop, staff_of


def test_concurrent_redemptions_never_overdraw(postgres: Database, runtime: Runtime) -> None:
    shop = make_shop(postgres, runtime, people=0)
    shop.credit(1_000)
    owner = staff_of(shop.merchant_id)

    def spend(i: int) -> str:
        data = RedemptionCreate(ad_group_id=shop.group_id, points=100, out_request_no=f"r{i}")
        with postgres.transaction() as s:
            service.redeem(s, owner, data)
        return "redeemed"

    outcomes = race(20, spend)

    assert outcomes == Counter({"redeemed": 10, "star_points.insufficient": 10})
    assert shop.balance() == 0
    with postgres.transaction() as s:
        assert s.scalar(select(func.count()).select_from(StarPointGrant)) == 10
        assert s.scalar(select(func.sum(StarPointEntry.points))) == -1_000
        account = service.balance(s, owner, None)
    assert (account.earned_total, account.redeemed_total) == (1_000, 1_000)


def test_concurrent_impressions_take_exactly_what_the_grant_holds(
    postgres: Database, runtime: Runtime
) -> None:
    shop = make_shop(postgres, runtime, people=0)
    shop.credit(10)
    owner = staff_of(shop.merchant_id)
    with postgres.transaction() as s:
        data = RedemptionCreate(ad_group_id=shop.group_id, points=10, out_request_no="g")
        grant_id = service.redeem(s, owner, data)[0].id

    def serve(i: int) -> str:
        with postgres.transaction() as s:
            return str(service.use_free_impression(s, grant_id))

    outcomes = race(30, serve)

    assert outcomes == Counter({"True": 10, "False": 20})
    with postgres.transaction() as s:
        grant = service.get_grant(s, owner.tenant, grant_id)
        assert (grant.impressions_used, grant.status.value) == (10, "exhausted")
        assert service.open_grants(s) == []
