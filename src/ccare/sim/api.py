"""How agents reach the platform: HTTP calls through one `httpx.Client` (a real server's
address, or an in-process app), with every call counted by name and status and timed.

Latencies are kept in a bounded reservoir per call name, so a load run of any length
holds the same memory.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

RESERVOIR = 5_000  # latencies kept per call name
RENEW_BEFORE = timedelta(minutes=5)  # sign in again this long before a session expires


class CallFailed(Exception):
    def __init__(self, name: str, status: int, body: Any) -> None:
        super().__init__(f"{name}: {status} {body}")
        self.name, self.status, self.body = name, status, body

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""


@dataclass
class Stats:
    """Calls by (name, status) and a latency sample per name, in milliseconds."""

    calls: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    def record(self, name: str, status: int, ms: float) -> None:
        self.calls[(name, status)] += 1
        self.seen[name] += 1
        sample = self.latencies.setdefault(name, [])
        if len(sample) < RESERVOIR:
            sample.append(ms)
        else:  # reservoir sampling: every call equally likely to be kept
            j = self._rng.randrange(self.seen[name])
            if j < RESERVOIR:
                sample[j] = ms

    def total(self) -> int:
        return sum(self.calls.values())

    def errors(self) -> int:
        """Server errors and transport failures (status 0); refusals are answers."""
        return sum(n for (_, status), n in self.calls.items() if status >= 500 or status == 0)


@dataclass(frozen=True)
class Actor:
    """Who calls: a bearer token (staff or consumer) or nobody, and from which address
    (`ip`: sent as `X-Forwarded-For`, which a platform that trusts the simulator's peer
    takes as the client's address; None: the connection's own)."""

    name: str
    token: str | None = None
    ip: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.ip:
            headers["X-Forwarded-For"] = self.ip
        return headers


ANONYMOUS = Actor("anonymous")


def real_now() -> datetime:
    return datetime.now(UTC)


class Api:
    def __init__(self, http: httpx.Client, stats: Stats | None = None) -> None:
        self.http = http
        self.stats = stats or Stats()
        # Sessions end (after the platform's session lifetime, which a simulated clock
        # reaches in minutes). Like an app, an actor signed in here signs in again when its
        # session is about to expire by the platform's time (`now`: an in-process platform
        # on a simulated clock sets it), or when a call is refused for want of one.
        # Calls that also serve anonymous callers would otherwise quietly run signed out.
        self.now: Callable[[], datetime] = real_now
        self._sign_in: dict[str, Callable[[], tuple[str, datetime]]] = {}
        self._renewed: dict[str, tuple[str, datetime]] = {}

    def call(
        self,
        actor: Actor,
        method: str,
        path: str,
        name: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = False,
    ) -> Any:
        """The decoded JSON answer; `CallFailed` for any status of 400 or more."""
        headers = actor.headers()
        if idempotent:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        for attempt in (1, 2):
            renewed = self._renewed.get(actor.name)
            if renewed is not None:
                if self.now() >= renewed[1] - RENEW_BEFORE:
                    renewed = self._renewed[actor.name] = self._sign_in[actor.name]()
                headers["Authorization"] = f"Bearer {renewed[0]}"
            r = self._send(name, method, path, json, params, headers)
            if r.status_code == 401 and attempt == 1 and actor.name in self._sign_in:
                self._renewed[actor.name] = self._sign_in[actor.name]()
                continue
            break
        body = r.json() if r.content and "json" in r.headers.get("content-type", "") else None
        if r.status_code >= 400:
            raise CallFailed(name, r.status_code, body)
        return body

    def _send(
        self,
        name: str,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        started = time.perf_counter()
        try:
            r = self.http.request(method, path, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            self.stats.record(name, 0, (time.perf_counter() - started) * 1000)
            raise CallFailed(name, 0, str(exc)) from exc
        self.stats.record(name, r.status_code, (time.perf_counter() - started) * 1000)
        return r

    # -- signing in ----------------------------------------------------------------------
    def staff(self, email: str, password: str) -> Actor:
        return self._signed_in(
            email, "/api/v1/auth/login", "auth.login", {"email": email, "password": password}
        )

    def consumer(self, consumer_id: int) -> Actor:
        return self._signed_in(
            f"consumer:{consumer_id}",
            "/api/v1/auth/consumer-login",
            "auth.consumer_login",
            {"consumer_id": consumer_id},
        )

    def _signed_in(self, name: str, path: str, call: str, body: dict[str, Any]) -> Actor:
        def sign_in() -> tuple[str, datetime]:
            session = self.call(ANONYMOUS, "POST", path, call, json=body)
            return str(session["token"]), datetime.fromisoformat(session["expires_at"])

        self._sign_in[name] = sign_in
        self._renewed[name] = sign_in()
        return Actor(name, self._renewed[name][0])
