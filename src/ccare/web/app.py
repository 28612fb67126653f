"""FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import RequestResponseEndpoint

from ccare import __version__
from ccare.runtime import Runtime
from ccare.web.errors import error_body, install_error_handlers
from ccare.web.gateway import endpoint as gateway_endpoint
from ccare.web.signed import SignedResponses
from ccare.web.world import WorldRouter

MAX_BODY_BYTES = 1_000_000
STATIC_DIR = Path(__file__).parent / "static"

DESCRIPTION = """
ccare's native API. Amounts are integer **fen** (1 yuan = 100 fen). Authenticate with
`Authorization: Bearer <token>` from `/api/v1/auth/login`. Money-moving calls require an
`Idempotency-Key` header: the same key with the same body returns the first result, with a
different body it fails with `idempotency.key_reused`. Errors are
`{"code", "message", "details"}` with a stable `code`.
"""


def create_app(runtime: Runtime | None = None, *, start_worker: bool = False) -> FastAPI:
    from ccare import products

    runtime = runtime or Runtime.from_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_worker and runtime.worker is None:
            runtime.start_worker()
        yield
        if start_worker:
            runtime.close()

    app = FastAPI(
        title="ccare",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.platform = runtime
    install_error_handlers(app)
    app.add_middleware(SignedResponses)
    app.add_middleware(WorldRouter)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(
                error_body("payload_too_large", f"body over {MAX_BODY_BYTES} bytes"),
                status_code=413,
            )
        return await call_next(request)

    @app.get("/api/v1/hello", tags=["meta"], summary="Liveness and benchmark baseline")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/app")

    for router in products.api_routers():
        app.include_router(router)
    app.include_router(gateway_endpoint.router)
    for router in products.console_routers():
        app.include_router(router, include_in_schema=False)

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    assets = runtime.settings.assets_dir
    app.mount("/assets", StaticFiles(directory=assets, check_dir=False), name="assets")
    return app
