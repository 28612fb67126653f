"""One request = one transaction.

Every product router is built with `api_router()`, whose routes open a session before
the endpoint, commit after it returns (before the response is sent, so a failed commit
is the caller's error, not a lost write) and roll back on any error.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ccare.web.deps import get_optional_principal
from ccare.web.signed import is_signed
from ccare.web.world import database_for


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run_in_transaction(request: Request) -> Response:
            session = database_for(request).sessionmaker()
            request.state.db = session
            try:
                if is_signed(request.headers.get("authorization", "")):
                    # A signed call is checked on every API route, public ones too: the
                    # same answer whether or not the edge could verify it (docs/adr/0009).
                    await get_optional_principal(request)
                response = await handler(request)
                if session.in_transaction():
                    end = session.commit if response.status_code < 400 else session.rollback
                    await run_in_threadpool(end)
                return response
            except BaseException as exc:
                if session.in_transaction():
                    await run_in_threadpool(end_refused, session, exc)
                raise
            finally:
                # A session that never began holds no connection: closing it does no I/O,
                # so calls that never touch the database skip two thread hops.
                if session.in_transaction():
                    await run_in_threadpool(session.close)
                else:
                    session.close()

        return run_in_transaction


def end_refused(session: Session, exc: BaseException) -> None:
    """End a transaction an error stopped: a `RecordedRefusal` keeps what it wrote (the
    record of the refusal), anything else rolls back. Pages that catch a refusal to show
    it call this before rendering."""
    if getattr(exc, "commits", False):
        session.commit()
    else:
        session.rollback()


def api_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=TransactionalRoute, **kwargs)
