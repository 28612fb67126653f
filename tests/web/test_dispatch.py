"""The route index picks exactly the route a full scan of the app's routes would."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Match

from ccare.web.dispatch import MAX_KEYS, RouteIndex

PARAM = re.compile(r"{([^}:]+)(:[^}]+)?}")


@pytest.fixture
def app(client: TestClient) -> FastAPI:
    application: FastAPI = client.app  # type: ignore[assignment]
    return application


def _scope(path: str, method: str) -> dict[str, object]:
    return {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}


def _first_match(routes: list[BaseRoute], path: str, method: str) -> BaseRoute | None:
    """Starlette's rule: the first full match, else the first partial one."""
    partial = None
    for route in routes:
        match, _ = route.matches(_scope(path, method))
        if match == Match.FULL:
            return route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial


def _paths(route: BaseRoute) -> list[str]:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return []
    concrete = PARAM.sub(lambda m: "a/b" if m.group(2) == ":path" else "7", path)
    return [concrete, concrete + "/", concrete + "/extra", concrete.rstrip("/") + "x"]


def test_every_route_and_its_near_misses_resolve_as_a_full_scan_would(app: FastAPI) -> None:
    routes = app.router.routes
    index = RouteIndex(app.router)
    index.refresh()
    paths = {p for route in routes for p in _paths(route)} | {"/", "/nowhere", "/api/v1/", ""}
    checked = 0
    for path in sorted(paths):
        subset = index.router_for(path)
        for method in ("GET", "POST", "PATCH", "DELETE"):
            expected = _first_match(routes, path, method)
            found = _first_match(subset.routes, path, method) if subset is not None else None
            assert found is expected, (path, method)
            checked += expected is not None
    assert checked > 300  # the app's ~150 routes, each found by at least two methods


def test_the_index_is_small_for_a_deep_route(app: FastAPI) -> None:
    index = RouteIndex(app.router)
    index.refresh()

    subset = index.router_for("/api/v1/openplatform/verify")

    assert subset is not None
    paths = {getattr(r, "path", None) for r in subset.routes}
    assert "/api/v1/openplatform/verify" in paths
    assert len(subset.routes) < len(app.router.routes) // 4
    assert all(
        p is None or p.startswith(("/api/v1/openplatform", "/static", "/assets", "/"))
        for p in paths
    )


def test_routes_added_later_are_found_and_misses_fall_back_to_the_full_router(
    client: TestClient, app: FastAPI
) -> None:
    assert client.get("/api/v1/openplatform/late").status_code == 404

    @app.get("/api/v1/openplatform/late")
    async def late() -> dict[str, str]:
        return {"late": "yes"}

    assert client.get("/api/v1/openplatform/late").json() == {"late": "yes"}
    # No route under the prefix takes a trailing slash: the full router redirects.
    redirect = client.get("/api/v1/openplatform/late/", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (
        307,
        "http://testserver/api/v1/openplatform/late",
    )
    missing = client.get("/api/v1/openplatform/none")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")


def test_the_cache_of_paths_stays_bounded(app: FastAPI) -> None:
    index = RouteIndex(app.router)
    index.refresh()

    for n in range(MAX_KEYS + 500):
        index.router_for(f"/static/{n}/file.css")

    assert len(index.by_key) == MAX_KEYS
    assert len(index.routers) <= len(app.router.routes)
