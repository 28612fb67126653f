"""Ledger pages: the operator's trial balance and the consumer's wallet."""

from __future__ import annotations

from typing import Annotated
from uuid import uuid4

from fastapi import Form, Request
from fastapi.responses import Response

from ccare.core.errors import DomainError
from ccare.ledger import service
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import AppConsumer, OperatorUser, redirect, run_once, safe_next
from ccare.web.routing import api_router
from ccare.web.templating import parse_yuan, problem_text, render, translate

router = api_router(tags=["console"])
app_router = api_router(tags=["app"])

# Demo top-up buttons in the app, in fen.
TOP_UP_CHOICES = (5_000, 10_000, 50_000)


@router.get("/console/operator/ledger")
def trial_balance(request: Request, db: DbSession, operator: OperatorUser) -> Response:
    lines = service.trial_balance(db)
    return render(
        request,
        "ledger/trial_balance.html",
        lines=lines,
        total=sum(t for _, t in lines),
        problems=service.check_invariants(db),
        entries=service.entries(db, limit=20),
    )


def _wallet_page(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    *,
    next_url: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "ledger/app_wallet.html",
        status_code=status_code,
        balance=service.wallet_balance(db, consumer.id),
        postings=service.recent_wallet_postings(db, consumer.id),
        choices=TOP_UP_CHOICES,
        next=next_url,
        error=error,
        notice=notice,
    )


@app_router.get("/app/wallet")
def wallet(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    next: str | None = None,
    topped: str | None = None,
) -> Response:
    notice = translate(request, N_("Top-up done.")) if topped else None
    return _wallet_page(request, db, consumer, next_url=safe_next(next, ""), notice=notice)


@app_router.post("/app/wallet/top-up")
def top_up(
    request: Request,
    db: DbSession,
    consumer: AppConsumer,
    amount: Annotated[str, Form()] = "",
    idempotency_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    amount_fen = parse_yuan(amount)
    try:
        if amount_fen is None:
            raise service.InvalidAmount("enter an amount", amount=amount)

        def produce() -> dict[str, int]:
            entry = service.top_up(db, consumer.id, amount_fen, f"top-up:{uuid4().hex}")
            return {"entry_id": entry.id}

        run_once(
            db, consumer, idempotency_key, "wallet.top_up", {"amount_fen": amount_fen}, produce
        )
    except DomainError as exc:
        db.rollback()
        return _wallet_page(
            request,
            db,
            consumer,
            next_url=safe_next(next, ""),
            error=problem_text(request, exc),
            status_code=exc.status_code,
        )
    back = safe_next(next, "")
    return redirect(back or "/app/wallet?topped=1")
