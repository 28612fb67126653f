"""An advertiser with an approved creative and prepaid money, another merchant, and
helpers to book, read the ledger and the inventory, and seed impression history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from ccare.brand_bookings import service
from ccare.brand_bookings.models import BrandBooking, BrandInventory
from ccare.brand_bookings.schemas import BookingCreate
from ccare.core.db import Database
from ccare.core.tenancy import Principal, PrincipalKind, StaffRole, Tenant
from ccare.ledger import service as ledger
from ccare.ledger.models import AccountKind
from ccare.ledger.repository import LedgerRepository
from ccare.promotion import service as promotion
from ccare.promotion.schemas import (
    AdImpressed,
    CreativeCreate,
    GroupCreate,
    PlanCreate,
    ReviewRequest,
)
from tests import factories as f
from tests.web.conftest import en  # noqa: F401  (a client with English pages)

# Tuesday 2026-11-24, 10:00 in Shanghai.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 24)
TOMORROW = TODAY + timedelta(days=1)
FUNDS = 5_000_000  # ¥50,000


def manager_of(merchant_id: int, staff_id: int) -> Principal:
    return Principal(
        kind=PrincipalKind.MERCHANT_STAFF,
        id=staff_id,
        name="owner",
        merchant_id=merchant_id,
        role=StaffRole.OWNER,
        tenant=Tenant(frozenset({merchant_id})),
    )


def make_creative(db: Database, merchant_id: int, *, approve: bool = True) -> int:
    mp = f.make_mini_program(db, merchant_id)
    op = f.FACTORY_OPERATOR
    with db.transaction() as s:
        plan, _ = promotion.create_plan(
            s,
            op,
            PlanCreate(
                merchant_id=merchant_id,
                out_request_no=f"plan-{mp}",
                name="Brand",
                objective="brand",  # type: ignore[arg-type]
                daily_budget_fen=10_000,
            ),
        )
        group = promotion.create_group(
            s,
            op,
            GroupCreate(
                plan_id=plan.id,
                name="All",
                bid_fen=50,
                targeting={"placements": ["home_feed"]},  # type: ignore[arg-type]
            ),
        )
        creative = promotion.create_creative(
            s, op, CreativeCreate(group_id=group.id, title="新年好", mini_program_id=mp, page="p/i")
        )
        if approve:
            promotion.review_creative(s, op, creative.id, ReviewRequest(decision="approved"))
        return creative.id


def fund(db: Database, merchant_id: int, amount_fen: int) -> None:
    with db.transaction() as s:
        ledger.fund_advertiser(
            s, merchant_id, amount_fen, f"fund:{merchant_id}:{amount_fen}", from_settlement=False
        )


def balance(db: Database, merchant_id: int) -> int:
    with db.transaction() as s:
        return ledger.advertiser_balance(s, merchant_id)


def revenue(db: Database) -> int:
    with db.transaction() as s:
        account = LedgerRepository(s).account(AccountKind.PLATFORM_REVENUE, None)
        return 0 if account is None else account.balance_fen


def inventory(db: Database, placement: str = "five_blessings") -> dict[date, tuple[int, int]]:
    """(capacity, booked) per day."""
    with db.transaction() as s:
        rows = s.scalars(select(BrandInventory).where(BrandInventory.placement == placement))
        return {r.day: (r.capacity, r.booked) for r in rows}


def set_capacity(db: Database, placement: str, days: list[date], capacity: int) -> None:
    """Inventory rows as if first sold from with a forecast of capacity ÷ 80%."""
    with db.transaction() as s:
        for day in days:
            s.add(
                BrandInventory(
                    placement=placement,
                    day=day,
                    forecast=capacity * 5 // 4,
                    capacity=capacity,
                    booked=0,
                    source="history",
                )
            )


def days_from(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def impression(placement: str, at: datetime, n: int, booking_id: int | None = None) -> AdImpressed:
    return AdImpressed(
        impression_id=n,
        placement=placement,
        plan_id=None,
        group_id=None,
        creative_id=1,
        booking_id=booking_id,
        occurred_at=at,
    )


def local(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """An instant at the given local (UTC+8) wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


@dataclass
class Advertiser:
    db: Database
    merchant_id: int
    owner: Principal
    owner_email: str
    password: str
    creative_id: int
    other_merchant_id: int
    other_creative_id: int

    def request(self, no: str = "b1", **overrides: Any) -> BookingCreate:
        body: dict[str, Any] = {
            "out_request_no": no,
            "placement": "five_blessings",
            "creative_id": self.creative_id,
            "start_day": TOMORROW.isoformat(),
            "end_day": (TOMORROW + timedelta(days=3)).isoformat(),
            "guaranteed": 10_003,
        }
        body.update(overrides)
        return BookingCreate.model_validate(body)

    def book(
        self, no: str = "b1", now: datetime = NOW, analytics: Any = None, **overrides: Any
    ) -> tuple[BrandBooking, bool]:
        with self.db.transaction() as s:
            booking, created = service.reserve(
                s, self.owner, analytics, self.request(no, **overrides), now
            )
            s.expunge(booking)
            return booking, created


@pytest.fixture
def adv(db: Database) -> Advertiser:
    m = f.make_merchant(db, name="品牌商家")
    other = f.make_merchant(db, name="Other brand")
    fund(db, m.merchant_id, FUNDS)
    return Advertiser(
        db=db,
        merchant_id=m.merchant_id,
        owner=manager_of(m.merchant_id, m.owner_staff_id),
        owner_email=m.owner_email,
        password=m.password,
        creative_id=make_creative(db, m.merchant_id),
        other_merchant_id=other.merchant_id,
        other_creative_id=make_creative(db, other.merchant_id),
    )
