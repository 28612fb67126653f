from uuid import uuid4

from fastapi.responses import JSONResponse

from ccare.ledger import service
from ccare.ledger.schemas import (
    EntryOut,
    EntryPage,
    EntryPostingOut,
    MerchantBalanceOut,
    TopUpCreate,
    TopUpOut,
    TrialBalanceLine,
    TrialBalanceOut,
    WalletOut,
)
from ccare.web.deps import (
    CurrentConsumer,
    CurrentOperator,
    CurrentTenant,
    DbSession,
    IdempotencyKey,
    IdPath,
    Limit,
    Offset,
)
from ccare.web.idempotent import run_idempotent
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["ledger"])


@router.get("/wallet", response_model=WalletOut, summary="My wallet balance and recent postings")
def get_wallet(db: DbSession, consumer: CurrentConsumer) -> WalletOut:
    return WalletOut(
        consumer_id=consumer.id,
        balance_fen=service.wallet_balance(db, consumer.id),
        recent=service.recent_wallet_postings(db, consumer.id),
    )


@router.post(
    "/wallet/top-ups",
    response_model=TopUpOut,
    status_code=201,
    summary="Add demo money to my wallet (Idempotency-Key required)",
)
def top_up(
    body: TopUpCreate, db: DbSession, consumer: CurrentConsumer, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> TopUpOut:
        entry = service.top_up(db, consumer.id, body.amount_fen, f"top-up:{uuid4().hex}")
        return TopUpOut(
            entry_id=entry.id,
            amount_fen=body.amount_fen,
            balance_fen=service.wallet_balance(db, consumer.id),
        )

    return run_idempotent(db, consumer, key, "wallet.top_up", body, produce, status_code=201)


@router.get(
    "/merchants/{merchant_id}/balance",
    response_model=MerchantBalanceOut,
    summary="A merchant's settlement balance (its staff, granted ISVs, operators)",
)
def merchant_balance(
    merchant_id: IdPath, db: DbSession, tenant: CurrentTenant
) -> MerchantBalanceOut:
    return MerchantBalanceOut(
        merchant_id=merchant_id, balance_fen=service.merchant_balance(db, tenant, merchant_id)
    )


@router.get("/ledger/trial-balance", response_model=TrialBalanceOut, summary="Operator: totals")
def trial_balance(db: DbSession, operator: CurrentOperator) -> TrialBalanceOut:
    lines = [TrialBalanceLine(kind=k, total_fen=t) for k, t in service.trial_balance(db)]
    return TrialBalanceOut(
        lines=lines,
        total_fen=sum(line.total_fen for line in lines),
        problems=service.check_invariants(db),
    )


@router.get("/ledger/entries", response_model=EntryPage, summary="Operator: journal, newest first")
def entries(
    db: DbSession,
    operator: CurrentOperator,
    limit: Limit = 50,
    offset: Offset = 0,
) -> EntryPage:
    items = [
        EntryOut(
            id=e.id,
            kind=e.kind,
            reference=e.reference,
            memo=e.memo,
            created_at=e.created_at,
            postings=[
                EntryPostingOut(
                    account_id=a.id, account_kind=a.kind, owner_id=a.owner_id, amount_fen=amt
                )
                for a, amt in postings
            ],
        )
        for e, postings in service.entries(db, limit, offset)
    ]
    return EntryPage(items=items, limit=limit, offset=offset)
