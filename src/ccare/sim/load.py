"""Load mode: open-loop mixed traffic on a built world. Visits arrive as a Poisson process
at a target rate, whether or not the platform keeps up (a closed loop would slow down
with the server and hide its queueing); each is a consumer's visit played by
`agents.consumer_visit` on a pool of worker threads, one HTTP client each.

Memory stays bounded however long the run: arrivals are drawn lazily, the queue between
the clock and the workers has a fixed size, and latencies (per call, over all calls, and
the lag behind schedule) live in reservoirs of `api.RESERVOIR`.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import httpx

from ccare.sim import agents
from ccare.sim.api import Api, CallFailed, Stats
from ccare.sim.world import World

QUEUE_SIZE = 1_000  # arrivals waiting for a free worker; the clock blocks beyond it
GRACE = 30.0  # seconds after the last arrival before waiting visits are dropped


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds since the start of the run
    seq: int
    person: int  # index into world.people


@dataclass
class SharedStats(Stats):
    """One `Stats` for every worker (a reservoir per call name across all threads, not
    one per thread), plus a reservoir over all calls for the overall percentiles."""

    overall: Stats = field(default_factory=Stats)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str, status: int, ms: float) -> None:
        with self._lock:
            super().record(name, status, ms)
            self.overall.record("all", status, ms)


@dataclass(frozen=True)
class CallLine:
    name: str
    count: int
    refused: int  # 4xx: answers, not errors
    errors: int
    p50_ms: float
    p99_ms: float


@dataclass
class LoadReport:
    rate: float  # target visits per second
    seconds: float  # length of the arrival window
    scheduled: int
    started: int
    finished: int  # played to the end, whatever the platform answered
    refused: int  # visits cut short by a 4xx answer (an empty wallet, a sold-out coupon)
    failed: int  # visits cut short by a 5xx answer or a transport failure
    crashed: int  # visits cut short by anything else (a bug in the agent or the API)
    dropped: int  # arrivals still waiting `GRACE` seconds after the window closed
    wall_seconds: float  # from the start to the last visit's end
    stats: SharedStats
    lag: Stats  # how late each visit started against its arrival, in milliseconds
    lag_max_ms: float
    first_crash: str  # what broke the first crashed visit, for the operator to look at

    @property
    def calls(self) -> int:
        return self.stats.total()

    @property
    def errors(self) -> int:
        return self.stats.errors()

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def visits_per_second(self) -> float:
        return self.finished / self.wall_seconds if self.wall_seconds else 0.0

    def overall(self, q: float) -> float:
        return percentile(self.stats.overall.latencies.get("all", []), q)

    def lag_ms(self, q: float) -> float:
        return percentile(self.lag.latencies.get("lag", []), q)

    def table(self) -> list[CallLine]:
        errors: Counter[str] = Counter()
        refused: Counter[str] = Counter()
        for (name, status), n in self.stats.calls.items():
            if status >= 500 or status == 0:
                errors[name] += n
            elif status >= 400:
                refused[name] += n
        return [
            CallLine(
                name,
                self.stats.seen[name],
                refused[name],
                errors[name],
                percentile(sample, 0.5),
                percentile(sample, 0.99),
            )
            for name, sample in sorted(self.stats.latencies.items())
        ]

    def lines(self) -> list[str]:
        lines = self.table()
        out = [f"{'call':<22}{'count':>8}{'4xx':>7}{'errors':>8}{'p50 ms':>10}{'p99 ms':>10}"]
        for c in lines:
            out.append(
                f"{c.name:<22}{c.count:>8}{c.refused:>7}{c.errors:>8}"
                f"{c.p50_ms:>10.1f}{c.p99_ms:>10.1f}"
            )
        out.append(
            f"{'all':<22}{self.calls:>8}{sum(c.refused for c in lines):>7}{self.errors:>8}"
            f"{self.overall(0.5):>10.1f}{self.overall(0.99):>10.1f}"
        )
        out.append(
            f"visits: {self.scheduled} scheduled at {self.rate:g}/s over {self.seconds:g} s, "
            f"{self.started} started, {self.finished} finished ({self.refused} refused, "
            f"{self.failed} failed, {self.crashed} crashed), {self.dropped} dropped"
        )
        out.append(
            f"achieved: {self.visits_per_second:.1f} visits/s, {self.calls_per_second:.1f} "
            f"calls/s over {self.wall_seconds:.1f} s; errors {self.errors}"
        )
        out.append(
            f"lag behind schedule: p50 {self.lag_ms(0.5):.1f} ms, p99 {self.lag_ms(0.99):.1f} ms, "
            f"max {self.lag_max_ms:.1f} ms"
        )
        if self.first_crash:
            out.append(f"first crash: {self.first_crash}")
        return out


def percentile(sample: list[float], q: float) -> float:
    if not sample:
        return 0.0
    ordered = sorted(sample)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def visitors(world: World) -> list[int]:
    """Who may arrive: everyone but the scalpers, whose traffic is the raids."""
    return [i for i, p in enumerate(world.people) if p.spec.ring is None]


def arrivals(world: World, rate: float, seconds: float, seed: int) -> Iterator[Arrival]:
    """The run's arrivals in time order, drawn lazily: exponential gaps at `rate`, each a
    person chosen in proportion to how often they come by in a day."""
    who = visitors(world)
    if not who or rate <= 0:
        return
    weights = [world.people[i].spec.sessions_per_day for i in who]
    cumulative, total = [], 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    rng = random.Random(f"load:{seed}")
    at, seq = 0.0, 0
    while True:
        at += rng.expovariate(rate)
        if at >= seconds:
            return
        yield Arrival(at, seq, rng.choices(who, cum_weights=cumulative)[0])
        seq += 1


def run(
    clients: Sequence[httpx.Client],
    world: World,
    *,
    rate: float,
    seconds: float,
    seed: int = 1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> LoadReport:
    """Play `rate` visits a second for `seconds` on one worker thread per client."""
    stats = SharedStats()
    lag = Stats()
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    waiting: queue.Queue[Arrival | None] = queue.Queue(QUEUE_SIZE)
    started_at = clock()
    deadline = started_at + seconds + GRACE
    last_end = [started_at]
    lag_max = [0.0]
    crashes: list[str] = []

    def work(http: httpx.Client) -> None:
        api = Api(http, stats)
        while (arrival := waiting.get()) is not None:
            now = clock()
            if now > deadline:
                with lock:
                    counts["dropped"] += 1
                continue
            late = max(0.0, (now - started_at - arrival.at) * 1000)
            with lock:
                counts["started"] += 1
                lag.record("lag", 0, late)
                lag_max[0] = max(lag_max[0], late)
            outcome = _visit(api, world, arrival, seed)
            with lock:
                counts["finished"] += 1
                if isinstance(outcome, Exception):
                    counts["crashed"] += 1
                    if not crashes:
                        crashes.append(repr(outcome))
                else:
                    counts[outcome] += 1
                last_end[0] = max(last_end[0], clock())

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    for t in threads:
        t.start()
    scheduled = 0
    try:
        for arrival in arrivals(world, rate, seconds, seed):
            wait = started_at + arrival.at - clock()
            if wait > 0:
                sleep(wait)
            waiting.put(arrival)
            scheduled += 1
    finally:
        for _ in threads:
            waiting.put(None)
        for t in threads:
            t.join()
    return LoadReport(
        rate=rate,
        seconds=seconds,
        scheduled=scheduled,
        started=counts["started"],
        finished=counts["finished"],
        refused=counts["refused"],
        failed=counts["failed"],
        crashed=counts["crashed"],
        dropped=counts["dropped"],
        wall_seconds=max(last_end[0] - started_at, 0.0),
        stats=stats,
        lag=lag,
        lag_max_ms=lag_max[0],
        first_crash=crashes[0] if crashes else "",
    )


def _visit(api: Api, world: World, arrival: Arrival, seed: int) -> str | Exception:
    # A rng per visit, not per person: visits of one person may overlap on two threads.
    rng = random.Random(f"visit:{seed}:{arrival.seq}")
    try:
        agents.consumer_visit(api, world, world.people[arrival.person], rng)
    except CallFailed as failed:
        return "failed" if failed.status >= 500 or failed.status == 0 else "refused"
    except Exception as broken:  # a load run reports a broken visit rather than stopping
        return broken
    return "ok"
