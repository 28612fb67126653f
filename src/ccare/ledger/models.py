from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, TimestampMixin
from ccare.core.time import utcnow


class AccountKind(StrEnum):
    CONSUMER_WALLET = "consumer_wallet"
    MERCHANT_SETTLEMENT = "merchant_settlement"
    PLATFORM_REVENUE = "platform_revenue"
    # External money entering the platform (demo top-ups); its balance goes negative.
    PLATFORM_FUNDING = "platform_funding"
    # A merchant's prepaid advertising money (灯火, 品牌宝); ad charges draw on it.
    ADVERTISER = "advertiser"


class Account(IdMixin, TimestampMixin, Base):
    __tablename__ = "ledger_accounts"
    kind: Mapped[str] = mapped_column(String(40))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    merchant_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    allow_negative: Mapped[bool] = mapped_column(default=False)


# NULLs are distinct in a plain unique constraint, and platform accounts have no owner.
Index(
    "uq_ledger_accounts_kind_owner",
    Account.kind,
    func.coalesce(Account.owner_id, 0),
    unique=True,
)


class JournalEntry(IdMixin, Base):
    __tablename__ = "ledger_entries"

    kind: Mapped[str] = mapped_column(String(40), index=True)
    reference: Mapped[str] = mapped_column(String(120), index=True)
    memo: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Posting(IdMixin, Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="non_zero"),)

    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_accounts.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
