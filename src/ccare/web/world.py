"""Live and sandbox worlds (docs/adr/0008): `/sandbox/...` is the same app on the
sandbox database.

The middleware moves the prefix into `root_path`, so routing sees the usual paths while
`raw_path` — what a client signed — stays as sent.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from ccare.core.db import Database
from ccare.core.errors import DomainError

SANDBOX_PREFIX = "/sandbox"
LIVE, SANDBOX = "live", "sandbox"


class SandboxUnavailable(DomainError):
    status_code = 503
    code = "sandbox.unavailable"


class WorldRouter:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            prefix = scope.get("root_path", "") + SANDBOX_PREFIX
            path: str = scope["path"]
            if path == prefix or path.startswith(prefix + "/"):
                state = dict(scope.get("state") or {})
                state["world"] = SANDBOX
                scope = {**scope, "root_path": prefix, "state": state}
        await self.app(scope, receive, send)


def world_of(connection: HTTPConnection) -> str:
    state = connection.scope.get("state") or {}
    return str(state.get("world", LIVE))


def database_for(connection: HTTPConnection) -> Database:
    runtime = connection.app.state.platform
    if world_of(connection) == SANDBOX:
        sandbox: Database | None = getattr(runtime, "sandbox", None)
        if sandbox is None:
            raise SandboxUnavailable("this server runs without a sandbox database")
        return sandbox
    live: Database = runtime.db
    return live
