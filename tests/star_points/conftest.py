"""A shop with a mini-program, consumers and an ad group; helpers that produce the events
points are earned from through the products that emit them, and deliver them as the
worker does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ccare.catalog import service as catalog
from ccare.catalog.models import VisitChannel
from ccare.core.db import Database
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, Tenant
from ccare.core.worker import InProcessTransport, drain
from ccare.favorites import service as favorites
from ccare.promotion import service as promotion
from ccare.runtime import Runtime
from ccare.star_points.repository import StarPointsRepository
from tests import factories as f
from tests.web.conftest import en  # noqa: F401  (a client with English pages)

# 10:00 in Beijing on 2026-11-20.
DAY1 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def staff_of(merchant_id: int) -> Principal:
    return Principal(
        kind=PrincipalKind.OPERATOR,
        id=0,
        name="test",
        tenant=Tenant(frozenset({merchant_id})),
        merchant_id=merchant_id,
    )


@dataclass(frozen=True)
class Shop:
    db: Database
    runtime: Runtime
    merchant: f.MerchantRef
    other: f.MerchantRef
    mini_program_id: int
    second_mini_program_id: int
    other_mini_program_id: int
    people: list[int]
    group_id: int
    other_group_id: int

    @property
    def merchant_id(self) -> int:
        return self.merchant.merchant_id

    def visit(self, consumer: int, channel: str, at: datetime, mp: int | None = None) -> None:
        with self.db.transaction() as s:
            recorded = catalog.record_visit(
                s, consumer, mp or self.mini_program_id, VisitChannel(channel), now=at
            )
            assert recorded
        self.deliver()

    def favorite(self, consumer: int, at: datetime, mp: int | None = None) -> None:
        who = Principal(kind=PrincipalKind.CONSUMER, id=consumer, tenant=PLATFORM)
        with self.db.transaction() as s:
            favorites.add(s, who, mp or self.mini_program_id, now=at)
        self.deliver()

    def unfavorite(self, consumer: int, at: datetime) -> None:
        who = Principal(kind=PrincipalKind.CONSUMER, id=consumer, tenant=PLATFORM)
        with self.db.transaction() as s:
            favorites.remove(s, who, self.mini_program_id, now=at)
        self.deliver()

    def deliver(self) -> int:
        return drain(self.db, InProcessTransport(self.db, self.runtime.analytics))

    def balance(self, merchant_id: int | None = None) -> int:
        with self.db.transaction() as s:
            account = StarPointsRepository(s).account(merchant_id or self.merchant_id)
            return 0 if account is None else account.balance

    def credit(self, points: int, merchant_id: int | None = None) -> None:
        """Points straight onto the account: setup for tests about spending them."""
        mid = merchant_id or self.merchant_id
        with self.db.transaction() as s:
            repo = StarPointsRepository(s)
            repo.ensure_account(mid)
            assert repo.apply(mid, points)


def _ad_group(db: Database, merchant_id: int, name: str) -> int:
    from ccare.promotion.schemas import GroupCreate, PlanCreate

    staff = staff_of(merchant_id)
    with db.transaction() as s:
        plan, _ = promotion.create_plan(
            s,
            staff,
            PlanCreate.model_validate(
                {
                    "out_request_no": f"plan-{name}",
                    "name": f"{name} plan",
                    "objective": "transactions",
                    "daily_budget_fen": 10_000,
                }
            ),
        )
        group = promotion.create_group(
            s,
            staff,
            GroupCreate.model_validate(
                {
                    "plan_id": plan.id,
                    "name": name,
                    "bid_fen": 60,
                    "targeting": {"placements": ["home_feed"]},
                }
            ),
        )
        return group.id


def make_shop(db: Database, runtime: Runtime, people: int = 4) -> Shop:
    merchant = f.make_merchant(db, name="西湖早餐")
    other = f.make_merchant(db, name="Other Shop")
    return Shop(
        db=db,
        runtime=runtime,
        merchant=merchant,
        other=other,
        mini_program_id=f.make_mini_program(db, merchant.merchant_id, name="早餐铺"),
        second_mini_program_id=f.make_mini_program(db, merchant.merchant_id, name="外卖"),
        other_mini_program_id=f.make_mini_program(db, other.merchant_id, name="Other"),
        people=[f.make_consumer(db, name=f"P{i}") for i in range(people)],
        group_id=_ad_group(db, merchant.merchant_id, "Morning"),
        other_group_id=_ad_group(db, other.merchant_id, "Theirs"),
    )


@pytest.fixture
def shop(db: Database, runtime: Runtime) -> Shop:
    return make_shop(db, runtime)
