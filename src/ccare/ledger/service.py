"""Balances change only here, through balanced postings (ADR 0006)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, DomainError
from ccare.core.outbox import emit
from ccare.core.tenancy import Tenant
from ccare.ledger.models import Account, AccountKind, JournalEntry, Posting
from ccare.ledger.repository import LedgerRepository
from ccare.ledger.schemas import MAX_TOP_UP_FEN, PostingOut, WalletToppedUp


class Unbalanced(DomainError):
    code = "ledger.unbalanced"


class InvalidAmount(DomainError):
    status_code = 422
    code = "ledger.invalid_amount"


class InsufficientFunds(Conflict):
    code = "wallet.insufficient_funds"


def post(
    db: Session,
    kind: str,
    reference: str,
    postings: list[tuple[Account, int]],
    memo: str = "",
) -> JournalEntry:
    """Write one balanced entry, or nothing: `wallet.insufficient_funds` when an account
    without `allow_negative` would go below zero."""
    if not postings or any(amount == 0 for _, amount in postings):
        raise Unbalanced("an entry needs non-zero postings")
    if sum(amount for _, amount in postings) != 0:
        raise Unbalanced("postings must sum to zero", total=sum(a for _, a in postings))
    repo = LedgerRepository(db)
    short: tuple[Account, int] | None = None
    # A savepoint makes the entry all-or-nothing even for a caller that goes on after the error.
    with db.begin_nested() as savepoint:
        entry = JournalEntry(kind=kind, reference=reference, memo=memo)
        repo.add(entry)
        # Row locks are taken in account-id order so two entries never wait on each other.
        for account, amount in sorted(postings, key=lambda p: p[0].id):
            if not repo.apply(account.id, amount):
                short = (account, amount)
                savepoint.rollback()
                break
            repo.add(Posting(entry_id=entry.id, account_id=account.id, amount_fen=amount))
    for account, _ in postings:
        db.expire(account, ["balance_fen"])
    if short is not None:
        account, amount = short
        raise InsufficientFunds(
            "insufficient funds",
            account=account.id,
            account_kind=account.kind,
            available=repo.balance(account.id),
            required=-amount,
        )
    return entry


def _get_or_create(
    db: Session,
    kind: AccountKind,
    owner_id: int | None,
    *,
    merchant_id: int | None = None,
    allow_negative: bool = False,
) -> Account:
    repo = LedgerRepository(db)
    account = repo.account(kind, owner_id)
    if account is not None:
        return account
    account = Account(
        kind=kind.value,
        owner_id=owner_id,
        merchant_id=merchant_id,
        balance_fen=0,
        allow_negative=allow_negative,
    )
    if repo.insert_account(account):
        return account
    existing = repo.account(kind, owner_id)
    assert existing is not None, "lost an account insert race but found no winner"
    return existing


def wallet(db: Session, consumer_id: int) -> Account:
    return _get_or_create(db, AccountKind.CONSUMER_WALLET, consumer_id)


def merchant_settlement(db: Session, merchant_id: int) -> Account:
    return _get_or_create(db, AccountKind.MERCHANT_SETTLEMENT, merchant_id, merchant_id=merchant_id)


def platform_revenue(db: Session) -> Account:
    return _get_or_create(db, AccountKind.PLATFORM_REVENUE, None)


def platform_funding(db: Session) -> Account:
    return _get_or_create(db, AccountKind.PLATFORM_FUNDING, None, allow_negative=True)


def advertiser(db: Session, merchant_id: int) -> Account:
    return _get_or_create(db, AccountKind.ADVERTISER, merchant_id, merchant_id=merchant_id)


def advertiser_balance(db: Session, merchant_id: int) -> int:
    account = LedgerRepository(db).account(AccountKind.ADVERTISER, merchant_id)
    return 0 if account is None else LedgerRepository(db).balance(account.id)


def fund_advertiser(
    db: Session, merchant_id: int, amount_fen: int, reference: str, *, from_settlement: bool
) -> JournalEntry:
    """Prepay advertising: from the merchant's own settlement balance (its sales), or, as
    demo money, from outside the platform. The caller has checked the actor's rights."""
    if not 1 <= amount_fen <= MAX_TOP_UP_FEN:
        raise InvalidAmount(f"top-ups are 1..{MAX_TOP_UP_FEN} fen", amount_fen=amount_fen)
    source = merchant_settlement(db, merchant_id) if from_settlement else platform_funding(db)
    return post(
        db,
        "advertiser_top_up",
        reference,
        [(source, -amount_fen), (advertiser(db, merchant_id), amount_fen)],
        memo="advertising prepayment",
    )


def top_up(db: Session, consumer_id: int, amount_fen: int, reference: str) -> JournalEntry:
    """Demo money: moves funds from outside the platform into a wallet."""
    if not 1 <= amount_fen <= MAX_TOP_UP_FEN:
        raise InvalidAmount(f"top-ups are 1..{MAX_TOP_UP_FEN} fen", amount_fen=amount_fen)
    target = wallet(db, consumer_id)
    entry = post(
        db,
        "top_up",
        reference,
        [(platform_funding(db), -amount_fen), (target, amount_fen)],
        memo="wallet top-up",
    )
    emit(
        db,
        WalletToppedUp(
            consumer_id=consumer_id,
            entry_id=entry.id,
            amount=amount_fen,
            balance_fen=wallet_balance(db, consumer_id),
        ),
    )
    return entry


def wallet_balance(db: Session, consumer_id: int) -> int:
    account = LedgerRepository(db).account(AccountKind.CONSUMER_WALLET, consumer_id)
    return 0 if account is None else LedgerRepository(db).balance(account.id)


def merchant_balance(db: Session, tenant: Tenant, merchant_id: int) -> int:
    """Tenant-scoped: another merchant's balance is "not found"."""
    from ccare.merchants import service as merchants

    merchants.get_merchant(db, tenant, merchant_id)
    repo = LedgerRepository(db, tenant)
    account = repo.account(AccountKind.MERCHANT_SETTLEMENT, merchant_id)
    return 0 if account is None else repo.balance(account.id)


def recent_wallet_postings(db: Session, consumer_id: int, limit: int = 20) -> list[PostingOut]:
    repo = LedgerRepository(db)
    account = repo.account(AccountKind.CONSUMER_WALLET, consumer_id)
    if account is None:
        return []
    return [
        PostingOut(
            entry_id=e.id,
            kind=e.kind,
            reference=e.reference,
            memo=e.memo,
            amount_fen=amount,
            created_at=e.created_at,
        )
        for amount, e in repo.recent_postings(account.id, limit)
    ]


def trial_balance(db: Session) -> list[tuple[str, int]]:
    return LedgerRepository(db).totals_by_kind()


def check_invariants(db: Session) -> list[str]:
    """Every broken invariant as a sentence; an empty list means the ledger is consistent."""
    repo = LedgerRepository(db)
    problems = [f"entry {e} does not sum to zero" for e in repo.unbalanced_entries()]
    problems += [f"account {a} balance {b} != postings {t}" for a, b, t in repo.drifted_accounts()]
    problems += [f"account {a} is overdrawn: {b}" for a, b in repo.overdrawn_accounts()]
    total = sum(t for _, t in repo.totals_by_kind())
    if total != 0:
        problems.append(f"balances sum to {total}, not 0")
    return problems


EntryWithPostings = tuple[JournalEntry, list[tuple[Account, int]]]


def entries(db: Session, limit: int = 50, offset: int = 0) -> list[EntryWithPostings]:
    repo = LedgerRepository(db)
    page = repo.entries(limit, offset)
    by_entry: dict[int, list[tuple[Account, int]]] = {e.id: [] for e in page}
    for entry_id, amount, account in repo.postings_of(list(by_entry)):
        by_entry[entry_id].append((account, amount))
    return [(e, by_entry[e.id]) for e in page]
