"""The ledger's own rules: balanced entries, no overdraft, consistent totals."""

from __future__ import annotations

import threading

import pytest

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.ledger import service as ledger
from ccare.ledger.models import AccountKind


def test_top_up_moves_money_from_funding_to_wallet(db: Database) -> None:
    with db.transaction() as s:
        entry = ledger.top_up(s, 7, 5_000, "t1")
        assert entry.kind == "top_up"
    with db.transaction() as s:
        assert ledger.wallet_balance(s, 7) == 5_000
        assert ledger.platform_funding(s).balance_fen == -5_000
        assert ledger.trial_balance(s) == [
            (AccountKind.CONSUMER_WALLET.value, 5_000),
            (AccountKind.PLATFORM_FUNDING.value, -5_000),
        ]
        assert ledger.check_invariants(s) == []


@pytest.mark.parametrize("amount", [0, -1, 10_000_001])
def test_top_up_amount_limits(db: Database, amount: int) -> None:
    with pytest.raises(DomainError) as err, db.transaction() as s:
        ledger.top_up(s, 7, amount, "t")
    assert err.value.code == "ledger.invalid_amount"
    assert err.value.status_code == 422


def test_top_up_bounds_are_inclusive(db: Database) -> None:
    with db.transaction() as s:
        ledger.top_up(s, 1, 1, "min")
        ledger.top_up(s, 2, 10_000_000, "max")
    with db.transaction() as s:
        assert ledger.wallet_balance(s, 1) == 1
        assert ledger.wallet_balance(s, 2) == 10_000_000


@pytest.mark.parametrize("amounts", [[], [100, -99], [100, 0, -100], [0]])
def test_post_rejects_unbalanced_or_empty(db: Database, amounts: list[int]) -> None:
    with pytest.raises(DomainError) as err, db.transaction() as s:
        accounts = [ledger.wallet(s, 1), ledger.merchant_settlement(s, 1), ledger.wallet(s, 2)]
        ledger.post(s, "test", "r", list(zip(accounts, amounts, strict=False)))
    assert err.value.code == "ledger.unbalanced"


def test_overdraft_is_refused_and_nothing_is_written(db: Database) -> None:
    with db.transaction() as s:
        ledger.top_up(s, 1, 300, "t")
    with db.transaction() as s:
        merchant = ledger.merchant_settlement(s, 9)
        wallet = ledger.wallet(s, 1)
        with pytest.raises(DomainError) as err:
            # The merchant account sorts first, so its credit is applied before the debit fails.
            ledger.post(s, "payment", "p", [(wallet, -301), (merchant, 301)])
        assert err.value.code == "wallet.insufficient_funds"
        assert err.value.status_code == 409
        assert err.value.details == {
            "account": wallet.id,
            "account_kind": "consumer_wallet",
            "available": 300,
            "required": 301,
        }
        # The caller may go on: the failed entry left nothing behind.
        assert merchant.balance_fen == 0
        assert wallet.balance_fen == 300
        assert ledger.check_invariants(s) == []
    with db.transaction() as s:
        assert ledger.wallet_balance(s, 1) == 300
        assert [e.kind for e, _ in ledger.entries(s)] == ["top_up"]


def test_exact_balance_can_be_spent_to_zero(db: Database) -> None:
    with db.transaction() as s:
        ledger.top_up(s, 1, 300, "t")
        ledger.post(
            s,
            "payment",
            "p",
            [(ledger.wallet(s, 1), -300), (ledger.merchant_settlement(s, 2), 300)],
        )
    with db.transaction() as s:
        assert ledger.wallet_balance(s, 1) == 0
        assert ledger.merchant_settlement(s, 2).balance_fen == 300


def test_get_or_create_returns_one_account_per_owner(db: Database) -> None:
    with db.transaction() as s:
        first = ledger.wallet(s, 5).id
        assert ledger.wallet(s, 5).id == first
        assert ledger.platform_revenue(s).id == ledger.platform_revenue(s).id
        settlement = ledger.merchant_settlement(s, 5)
        assert settlement.id != first
        assert settlement.merchant_id == 5
        assert ledger.platform_funding(s).allow_negative is True
        assert ledger.wallet(s, 5).allow_negative is False


def test_concurrent_get_or_create_yields_one_account(db: Database) -> None:
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        try:
            barrier.wait()
            with db.transaction() as s:
                ids.append(ledger.platform_revenue(s).id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 1


def test_invariant_check_reports_tampering(db: Database) -> None:
    from sqlalchemy import text

    with db.transaction() as s:
        ledger.top_up(s, 1, 100, "t")
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_accounts SET balance_fen = -5 WHERE kind = 'consumer_wallet'")
        )
    with db.transaction() as s:
        problems = ledger.check_invariants(s)
    wallet_id = problems[0].split()[1]
    assert problems == [
        f"account {wallet_id} balance -5 != postings 100",
        f"account {wallet_id} is overdrawn: -5",
        "balances sum to -105, not 0",
    ]


def test_entries_page_newest_first_with_postings(db: Database) -> None:
    with db.transaction() as s:
        ledger.top_up(s, 1, 100, "a")
        ledger.top_up(s, 2, 200, "b")
    with db.transaction() as s:
        page = ledger.entries(s, limit=1)
        assert [(e.reference, sorted(a for _, a in p)) for e, p in page] == [("b", [-200, 200])]
        page = ledger.entries(s, limit=5, offset=1)
        assert [e.reference for e, _ in page] == ["a"]
