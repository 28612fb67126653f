from datetime import datetime

from pydantic import BaseModel, Field

from ccare.core.events import DomainEvent, domain_event

MAX_TOP_UP_FEN = 10_000_000


class TopUpCreate(BaseModel):
    amount_fen: int = Field(ge=1, le=MAX_TOP_UP_FEN, description="demo money, 1..10,000,000 fen")


class PostingOut(BaseModel):
    entry_id: int
    kind: str
    reference: str
    memo: str
    amount_fen: int
    created_at: datetime


class WalletOut(BaseModel):
    consumer_id: int
    balance_fen: int
    recent: list[PostingOut]


class TopUpOut(BaseModel):
    entry_id: int
    amount_fen: int
    balance_fen: int


class MerchantBalanceOut(BaseModel):
    merchant_id: int
    balance_fen: int


class TrialBalanceLine(BaseModel):
    kind: str
    total_fen: int


class TrialBalanceOut(BaseModel):
    lines: list[TrialBalanceLine]
    total_fen: int = Field(description="always 0 in a consistent ledger")
    problems: list[str] = Field(description="broken invariants; empty when consistent")


class EntryPostingOut(BaseModel):
    account_id: int
    account_kind: str
    owner_id: int | None
    amount_fen: int


class EntryOut(BaseModel):
    id: int
    kind: str
    reference: str
    memo: str
    created_at: datetime
    postings: list[EntryPostingOut]


class EntryPage(BaseModel):
    items: list[EntryOut]
    limit: int
    offset: int


@domain_event("wallet.topped_up")
class WalletToppedUp(DomainEvent):
    entry_id: int
    amount: int
    balance_fen: int
