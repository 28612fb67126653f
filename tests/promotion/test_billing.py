"""Billing: budgets and the balance are hard limits, fen move through the ledger as they
accrue, a refused charge writes nothing; on PostgreSQL concurrent charges never pass a
limit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ccare.core.db import Database
from ccare.ledger import service as ledger
from ccare.ledger.models import JournalEntry
from ccare.promotion import billing
from ccare.promotion.models import AdPlan, AdPlanDay, AdPlanTotal, ChargeType, Objective
from tests import factories as f
from tests.concurrency import race

DAY = date(2026, 11, 25)


def _plan(db: Database, daily_fen: int, total_fen: int | None, balance_fen: int) -> tuple[int, int]:
    m = f.make_merchant(db)
    with db.transaction() as s:
        plan = AdPlan(
            merchant_id=m.merchant_id,
            out_request_no="p",
            name="P",
            objective=Objective.TRANSACTIONS,
            charge_type=ChargeType.CPC,
            daily_budget_fen=daily_fen,
            total_budget_fen=total_fen,
            hours="1" * 168,
        )
        s.add(plan)
        s.flush()
        if balance_fen:
            ledger.fund_advertiser(s, m.merchant_id, balance_fen, "seed", from_settlement=False)
        return plan.id, m.merchant_id


def _charge(db: Database, plan: tuple[int, int], cost: int, daily: int, total: int | None) -> str:
    try:
        with db.transaction() as s:
            billing.charge(
                s,
                plan_id=plan[0],
                merchant_id=plan[1],
                day=DAY,
                cost_millifen=cost,
                daily_budget_fen=daily,
                total_budget_fen=total,
                reference=f"t:{cost}",
            )
    except billing.Refused as refused:
        return refused.reason
    return "ok"


def _state(db: Database, plan: tuple[int, int]) -> tuple[int, int, int, int]:
    """(spent today, spent in all, billed fen, advertiser balance fen)"""
    with db.transaction() as s:
        day = s.scalar(select(AdPlanDay.spent_millifen).where(AdPlanDay.plan_id == plan[0])) or 0
        total = s.get(AdPlanTotal, plan[0])
        return (
            day,
            total.spent_millifen if total else 0,
            total.billed_fen if total else 0,
            ledger.advertiser_balance(s, plan[1]),
        )


def test_daily_budget_total_budget_and_balance_refuse_with_nothing_written(db: Database) -> None:
    plan = _plan(db, daily_fen=1_000, total_fen=1_500, balance_fen=1_200)
    assert _charge(db, plan, 600_000, 1_000, 1_500) == "ok"
    assert _charge(db, plan, 500_000, 1_000, 1_500) == "daily_budget"
    assert _charge(db, plan, 400_000, 1_000, 1_500) == "ok"
    assert _state(db, plan) == (1_000_000, 1_000_000, 1_000, 200)
    assert _charge(db, plan, 600_000, 2_000, 1_500) == "total_budget"
    assert _charge(db, plan, 300_000, 2_000, 1_500) == "balance"
    assert _state(db, plan) == (1_000_000, 1_000_000, 1_000, 200)
    with db.transaction() as s:
        assert [e.kind for e in s.scalars(select(JournalEntry).order_by(JournalEntry.id))] == [
            "advertiser_top_up",
            "ad_charge",
            "ad_charge",
        ]
        assert ledger.check_invariants(s) == []


def test_impressions_accrue_and_whole_fen_are_posted(db: Database) -> None:
    plan = _plan(db, daily_fen=1_000, total_fen=None, balance_fen=1_000)
    for _ in range(5):
        assert _charge(db, plan, 800, 1_000, None) == "ok"  # ¥8 per mille
    assert _state(db, plan) == (4_000, 4_000, 4, 996)
    assert _charge(db, plan, 799, 1_000, None) == "ok"
    assert _state(db, plan) == (4_799, 4_799, 4, 996)


def test_concurrent_clicks_never_pass_the_budget_or_the_balance(postgres: Database) -> None:
    budget_bound = _plan(postgres, daily_fen=1_000, total_fen=None, balance_fen=50_000)
    clicks = race(30, lambda _: _charge(postgres, budget_bound, 100_000, 1_000, None))
    assert clicks == {"ok": 10, "daily_budget": 20}
    assert _state(postgres, budget_bound) == (1_000_000, 1_000_000, 1_000, 49_000)
    balance_bound = _plan(postgres, daily_fen=50_000, total_fen=None, balance_fen=500)
    clicks = race(30, lambda _: _charge(postgres, balance_bound, 100_000, 50_000, None))
    assert clicks == {"ok": 5, "balance": 25}
    assert _state(postgres, balance_bound) == (500_000, 500_000, 500, 0)
    with postgres.transaction() as s:
        assert ledger.check_invariants(s) == []
