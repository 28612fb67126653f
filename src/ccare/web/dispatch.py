"""Route lookup by path prefix (docs/adr/0009).

Starlette tries an application's routes one by one, so a call to one of the last routes
pays for a regex match against every route before it. `index_routes` gives the app's
router a dispatcher that tries only the routes whose literal prefix (the path up to its
first `{parameter}`) the request path could start with, in their original order. A route
outside that set cannot match, so the first match is the one the full scan would find;
anything the candidates do not match (404s, trailing-slash redirects) goes to the full
router as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

# Paths are bucketed by their first DEPTH segments: /api/v1/<product>.
DEPTH = 3
Key = tuple[str, ...]
MAX_KEYS = 4096


def literal_prefix(route: BaseRoute) -> str | None:
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None  # no path to index (a Host route): a candidate for every request
    return path.split("{", 1)[0]


def key_of(prefix: str, *, complete: bool) -> Key:
    """The first DEPTH segments of `prefix`; with complete=False the last may be partial."""
    pieces = prefix.split("/")[1:]
    if not complete:
        pieces = pieces[:-1]  # the piece after the last "/" may continue past the prefix
    return tuple(pieces[:DEPTH])


@dataclass
class RouteIndex:
    router: APIRouter
    routes: list[BaseRoute] = field(default_factory=list)  # the list indexed, and its size
    size: int = -1
    buckets: dict[Key, list[int]] = field(default_factory=dict)
    # Routes whose literal prefix is shorter than DEPTH whole segments: (prefix, position).
    loose: list[tuple[str, int]] = field(default_factory=list)
    # One router per distinct candidate list: a finite family, however many paths come.
    routers: dict[tuple[int, ...], APIRouter] = field(default_factory=dict)
    by_key: dict[Key, APIRouter | None] = field(default_factory=dict)

    def refresh(self) -> None:
        """(Re)build when routes were added since; cheap to call on every request."""
        routes = self.router.routes
        if routes is self.routes and len(routes) == self.size:
            return
        buckets: dict[Key, list[int]] = {}
        loose: list[tuple[str, int]] = []
        for position, route in enumerate(routes):
            prefix = literal_prefix(route)
            if prefix is None:
                loose.append(("", position))
                continue
            whole = "{" not in getattr(route, "path", "") and not isinstance(route, Mount)
            key = key_of(prefix, complete=whole)
            if len(key) == DEPTH:
                buckets.setdefault(key, []).append(position)
            else:
                loose.append((prefix, position))
        self.buckets, self.loose, self.routers, self.by_key = buckets, loose, {}, {}
        self.routes, self.size = routes, len(routes)

    def router_for(self, path: str) -> APIRouter | None:
        """A router holding only the routes that could match `path`; None: no such route."""
        key = key_of(path, complete=True)
        if key in self.by_key:
            return self.by_key[key]
        candidates = self.buckets.get(key, []) + [p for x, p in self.loose if path.startswith(x)]
        positions = tuple(sorted(candidates))
        subset = self.routers.get(positions) if positions else None
        if positions and subset is None:
            subset = APIRouter(redirect_slashes=False, default=self.router.app)
            subset.routes = [self.router.routes[p] for p in positions]
            self.routers[positions] = subset
        # A loose prefix ends within the first DEPTH segments, so the candidates depend on
        # the key alone; the cache is bounded because clients choose the paths.
        if len(self.by_key) < MAX_KEYS:
            self.by_key[key] = subset
        return subset


def index_routes(app: FastAPI) -> None:
    """Make `app`'s router dispatch through a RouteIndex."""
    router = app.router
    index = RouteIndex(router)
    full: ASGIApp = router.middleware_stack

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await full(scope, receive, send)
            return
        index.refresh()
        subset = index.router_for(get_route_path(scope))
        if subset is None:
            await full(scope, receive, send)
            return
        # url_for and friends look every route up in the full router.
        scope.setdefault("router", router)
        await subset.app(scope, receive, send)

    router.middleware_stack = dispatch
