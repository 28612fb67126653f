from collections.abc import Sequence

from sqlalchemy import Row, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ccare.core.tenancy import PLATFORM, Tenant, scoped
from ccare.ledger.models import Account, AccountKind, JournalEntry, Posting


class LedgerRepository:
    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant

    def account(self, kind: AccountKind, owner_id: int | None) -> Account | None:
        owner = Account.owner_id.is_(None) if owner_id is None else Account.owner_id == owner_id
        stmt = select(Account).where(Account.kind == kind.value, owner)
        return self.db.scalars(scoped(stmt, Account.merchant_id, self.tenant)).first()

    def insert_account(self, account: Account) -> bool:
        """False when a concurrent transaction created the same account first."""
        try:
            with self.db.begin_nested():
                self.db.add(account)
                self.db.flush()
        except IntegrityError:
            return False
        return True

    def apply(self, account_id: int, delta: int) -> bool:
        """One conditional UPDATE: never reads the balance, so concurrent posters cannot
        overdraw a non-negative account."""
        stmt = (
            update(Account)
            .where(
                Account.id == account_id,
                or_(Account.allow_negative, Account.balance_fen + delta >= 0),
            )
            .values(balance_fen=Account.balance_fen + delta)
            .execution_options(synchronize_session=False)
        )
        return bool(self.db.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def balance(self, account_id: int) -> int:
        stmt = select(Account.balance_fen).where(Account.id == account_id)
        return int(self.db.execute(stmt).scalar_one())

    def add(self, obj: JournalEntry | Posting) -> None:
        self.db.add(obj)
        self.db.flush()

    def recent_postings(self, account_id: int, limit: int) -> Sequence[Row[int, JournalEntry]]:
        stmt = (
            select(Posting.amount_fen, JournalEntry)
            .join(JournalEntry, JournalEntry.id == Posting.entry_id)
            .where(Posting.account_id == account_id)
            .order_by(Posting.id.desc())
            .limit(limit)
        )
        return self.db.execute(stmt).all()

    def entries(self, limit: int, offset: int) -> list[JournalEntry]:
        stmt = select(JournalEntry).order_by(JournalEntry.id.desc()).limit(limit).offset(offset)
        return list(self.db.scalars(stmt))

    def postings_of(self, entry_ids: list[int]) -> Sequence[Row[int, int, Account]]:
        stmt = (
            select(Posting.entry_id, Posting.amount_fen, Account)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(entry_ids))
            .order_by(Posting.id)
        )
        return self.db.execute(stmt).all()

    def totals_by_kind(self) -> list[tuple[str, int]]:
        stmt = (
            select(Account.kind, func.coalesce(func.sum(Account.balance_fen), 0))
            .group_by(Account.kind)
            .order_by(Account.kind)
        )
        return [(kind, int(total)) for kind, total in self.db.execute(stmt)]

    def unbalanced_entries(self) -> list[int]:
        sums = (
            select(JournalEntry.id, func.coalesce(func.sum(Posting.amount_fen), 0).label("total"))
            .outerjoin(Posting, Posting.entry_id == JournalEntry.id)
            .group_by(JournalEntry.id)
            .having(
                or_(
                    func.coalesce(func.sum(Posting.amount_fen), 0) != 0, func.count(Posting.id) == 0
                )
            )
        )
        return [row[0] for row in self.db.execute(sums)]

    def drifted_accounts(self) -> list[tuple[int, int, int]]:
        """(account id, balance, sum of postings) where the two disagree."""
        posted = (
            select(Posting.account_id, func.sum(Posting.amount_fen).label("total"))
            .group_by(Posting.account_id)
            .subquery()
        )
        total = func.coalesce(posted.c.total, 0)
        stmt = (
            select(Account.id, Account.balance_fen, total)
            .outerjoin(posted, posted.c.account_id == Account.id)
            .where(Account.balance_fen != total)
        )
        return [(a, int(b), int(t)) for a, b, t in self.db.execute(stmt)]

    def overdrawn_accounts(self) -> list[tuple[int, int]]:
        stmt = select(Account.id, Account.balance_fen).where(
            Account.allow_negative.is_(False), Account.balance_fen < 0
        )
        return [(a, int(b)) for a, b in self.db.execute(stmt)]
