"""Races only PostgreSQL runs truly in parallel: many advertisers' attempts on the last
inventory, on the last of the money, and one out_request_no sent many times at once."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from ccare.brand_bookings import service
from ccare.brand_bookings.models import BrandBooking
from ccare.core.db import Database
from ccare.ledger import service as ledger
from tests.brand_bookings.conftest import (
    FUNDS,
    NOW,
    TOMORROW,
    Advertiser,
    balance,
    days_from,
    inventory,
    revenue,
    set_capacity,
)
from tests.concurrency import race

DAYS2 = days_from(TOMORROW, 2)
PRICE = 6_000  # 2,000 impressions at ¥30 per mille


def _book(adv: Advertiser, no: str) -> str:
    with adv.db.transaction() as s:
        booking, created = service.reserve(
            s,
            adv.owner,
            None,
            adv.request(no, end_day=DAYS2[-1].isoformat(), guaranteed=2_000),
            NOW,
        )
        return f"booked {booking.id}" if created else f"same {booking.id}"


def _bookings(db: Database) -> int:
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(BrandBooking)) or 0


def test_the_last_inventory_is_sold_exactly_once(postgres: Database, adv: Advertiser) -> None:
    set_capacity(postgres, "five_blessings", DAYS2, 10 * 1_000)
    outcomes = race(25, lambda i: _book(adv, f"r{i}").split()[0])
    assert outcomes == Counter({"booked": 10, "brand_bookings.sold_out": 15})
    assert inventory(postgres) == {d: (10_000, 10_000) for d in DAYS2}
    assert _bookings(postgres) == 10
    assert balance(postgres, adv.merchant_id) == FUNDS - 10 * PRICE
    assert revenue(postgres) == 10 * PRICE
    with postgres.transaction() as s:
        assert ledger.check_invariants(s) == []


def test_the_last_money_pays_exactly_k(postgres: Database, adv: Advertiser) -> None:
    set_capacity(postgres, "five_blessings", DAYS2, 100_000)
    with postgres.transaction() as s:  # leave money for 7 bookings and a little
        ledger.post(
            s,
            "test",
            "drain",
            [
                (ledger.advertiser(s, adv.merchant_id), -(FUNDS - 7 * PRICE - 123)),
                (ledger.platform_funding(s), FUNDS - 7 * PRICE - 123),
            ],
        )
    outcomes = race(25, lambda i: _book(adv, f"m{i}").split()[0])
    assert outcomes == Counter({"booked": 7, "wallet.insufficient_funds": 18})
    assert inventory(postgres) == {d: (100_000, 7_000) for d in DAYS2}
    assert balance(postgres, adv.merchant_id) == 123
    assert revenue(postgres) == 7 * PRICE


def test_one_request_no_sent_at_once_books_once(postgres: Database, adv: Advertiser) -> None:
    outcomes = race(10, lambda i: _book(adv, "same"))
    assert outcomes == Counter({"booked 1": 1, "same 1": 9})
    assert _bookings(postgres) == 1
    assert balance(postgres, adv.merchant_id) == FUNDS - PRICE
    assert inventory(postgres)[DAYS2[0]] == (1_600_000, 1_000)
