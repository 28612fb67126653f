"""Charging for ads: the daily and total budget counters and the ledger, all or nothing.

A charge in milli-fen first raises the plan's spend for the day and over its life, each by
one conditional UPDATE that refuses to pass the budget, so concurrent charges can never
overspend. The whole fen that the life-time spend has crossed are then posted from the
advertiser's account to platform revenue; the ledger refuses to overdraw it. Any refusal
rolls the savepoint back: nothing is counted that was not paid for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from ccare.core.outbox import emit
from ccare.ledger import service as ledger
from ccare.ledger.service import InsufficientFunds
from ccare.promotion.repository import SpendRepository
from ccare.promotion.schemas import PromotionCharged


@dataclass(frozen=True, slots=True)
class Charge:
    cost_millifen: int
    fen: int  # whole fen posted to the ledger by this charge (often 0 for one impression)


class Refused(Exception):
    """The charge would pass the daily or total budget, or the balance."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def charge(
    db: Session,
    *,
    plan_id: int,
    merchant_id: int,
    day: date,
    cost_millifen: int,
    daily_budget_fen: int,
    total_budget_fen: int | None,
    reference: str,
) -> Charge:
    """Raises `Refused` ("daily_budget", "total_budget", "balance") and writes nothing."""
    if cost_millifen <= 0:
        return Charge(0, 0)
    repo = SpendRepository(db)
    refused: str | None = None
    owed = 0
    entry_id = 0
    with db.begin_nested() as savepoint:
        if not repo.add_daily(plan_id, merchant_id, day, cost_millifen, daily_budget_fen * 1000):
            refused = "daily_budget"
        else:
            limit = None if total_budget_fen is None else total_budget_fen * 1000
            crossed = repo.add_total(plan_id, merchant_id, cost_millifen, limit)
            if crossed is None:
                refused = "total_budget"
            elif crossed > 0:
                try:
                    entry = ledger.post(
                        db,
                        "ad_charge",
                        reference,
                        [
                            (ledger.advertiser(db, merchant_id), -crossed),
                            (ledger.platform_revenue(db), crossed),
                        ],
                        memo=f"ad plan {plan_id}",
                    )
                except InsufficientFunds:
                    refused = "balance"
                else:
                    repo.mark_billed(plan_id, crossed)
                    owed, entry_id = crossed, entry.id
        if refused is not None:
            savepoint.rollback()
    if refused is not None:
        raise Refused(refused)
    if owed == 0:
        return Charge(cost_millifen, 0)
    emit(
        db,
        PromotionCharged(merchant_id=merchant_id, plan_id=plan_id, amount=owed, entry_id=entry_id),
    )
    return Charge(cost_millifen, owed)
