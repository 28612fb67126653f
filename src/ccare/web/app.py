"""FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ccare import __version__
from ccare.runtime import Runtime
from ccare.web.bodylimit import BodyLimit
from ccare.web.dispatch import index_routes
from ccare.web.errors import install_error_handlers
from ccare.web.gateway import endpoint as gateway_endpoint
from ccare.web.signed import SignedCalls
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
    app.add_middleware(SignedCalls)
    app.add_middleware(WorldRouter)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    if runtime.settings.forwarded_allow_ips:
        # Outermost, so everything inside sees the client the trusted proxy names.
        app.add_middleware(
            ProxyHeadersMiddleware, trusted_hosts=runtime.settings.forwarded_allow_ips
        )

    @app.get("/api/v1/hello", tags=["meta"], summary="Liveness and benchmark baseline")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/app")

    for router in products.api_routers():
        add_routes(app, router)
    add_routes(app, gateway_endpoint.router)
    for router in products.console_routers():
        add_routes(app, router, in_schema=False)

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    assets = runtime.settings.assets_dir
    app.mount("/assets", StaticFiles(directory=assets, check_dir=False), name="assets")
    index_routes(app)
    return app


def add_routes(app: FastAPI, router: APIRouter, *, in_schema: bool = True) -> None:
    """Add a product router's routes to the app itself, flat (docs/adr/0009).

    A product router already carries its prefix, tags and route class. Included with
    `include_router`, FastAPI keeps it as a nested router that every request scans
    again; its routes added directly are matched once, through the route index.
    """
    for route in router.routes:
        if not in_schema:
            route.include_in_schema = False  # type: ignore[attr-defined]
        app.router.routes.append(route)
