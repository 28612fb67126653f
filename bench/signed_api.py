"""Signed native API over HTTP: verify-only calls, signed responses, Ed25519 against RSA2.

    python bench/signed_api.py --seconds 10
    python bench/signed_api.py --seconds 20 --blocks 10 --json bench/results/signed.json

Starts `ccare serve` (uvicorn, in-process worker, as `ccare demo` runs it) in a subprocess
on a free port against a fresh SQLite database with one merchant, whose owner signs in and
creates two apps through the API: one with an RSA-2048 public key, one with an Ed25519
key. K clients (one thread and one keep-alive HTTP/1.1 connection each; a minimal socket
client by default, so that the clients' CPU stays small next to the server's) measure:

- `hello`: unsigned GET /api/v1/hello, the baseline of this machine and run;
- `verify RSA2`: signed GET /api/v1/openplatform/verify, the verify-only check: the server
  verifies the SHA256withRSA signature, resolves the app and answers 204, which carries
  nothing to sign back;
- `whoami RSA2`: signed GET /api/v1/openplatform/whoami: the same, answered with a small
  JSON body that the server signs with its RSA2 platform key;
- `verify ED25519`, `whoami ED25519`: the same with the Ed25519 app (Ed25519 verify, and
  an Ed25519 signature on whoami's answer).

The phases alternate in `--blocks` short blocks (hello, verify, whoami, ..., hello, ...),
each after `--warmup` unmeasured seconds and on fresh connections, so that other load on
the machine falls on all of them alike. The Authorization headers (each with its own nonce:
the server refuses reused ones) are signed before each block, in a process pool while the
server is idle, so that client-side signing takes no CPU from the server during the
measured seconds. A sample of the answers is checked against the platform's public keys.

The raw `ccare.core.signing` rates (sign, verify, verify + sign as the server does per
call, all on one thread; RSA signing also on two threads) are measured in this process
before the servers start and again after they stop; the higher of the two counts.

Diagnostic servers (`--diagnostics`) run beside it on the same database, each `ccare
serve` with one function replaced, and are measured the same way (RSA2 only), block by
block in turn with the real one. By default: `no-response-signing`
(`ccare.web.signed.sign` returns a constant; whoami) and `no-crypto` (the request
signature is also taken as valid without checking it; verify and whoami); their answers
carry no valid signature. They are diagnostics, not ccare.

During each block the CPU seconds used by the server process, by the clients (this
process) and by the whole machine are read from /proc, so that a call's server CPU cost
can be set against the cost of its signatures, and other load is visible ("other"). The
app rate limit is raised for the run (CCARE_APP_RATE_LIMIT_PER_MINUTE): the default of
1200 calls a minute would refuse most calls.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from ccare.core.signing import (
    PrivateKey,
    PublicKey,
    SignAlgorithm,
    authorization_header,
    export_private_key,
    export_public_key,
    generate_private_key,
    load_private_key,
    load_public_key,
    native_content,
    response_content,
    sign,
    verify,
)
from order_pay_http import Phase, free_port, machine

HELLO = "/api/v1/hello"
VERIFY = "/api/v1/openplatform/verify"  # 204: the call verified; nothing to sign back
WHOAMI = "/api/v1/openplatform/whoami"  # 200 with a JSON body, signed by the platform
OWNER_EMAIL = "owner@bench.test"
OWNER_PASSWORD = "bench-pass-1"
HEADER_MARGIN = 1.5  # headers signed per phase: best rate so far x phase length x this
SAMPLES_PER_CLIENT = 3  # answers per client whose response signature is checked
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# A diagnostic server is `ccare serve` with one function replaced before it starts.
NO_RESPONSE_SIGN = """
import ccare.web.signed as signed
signed.sign = lambda key, message: "A" * 344
"""
NO_CRYPTO = (
    NO_RESPONSE_SIGN
    + """
import ccare.openplatform.auth as auth
auth.verify = lambda key, message, signature: True
"""
)
# name: (code run before `ccare serve`, the signed calls measured on that server)
DIAGNOSTICS = {
    "no-response-signing": (NO_RESPONSE_SIGN, (WHOAMI,)),  # verify signs nothing back anyway
    "no-crypto": (NO_CRYPTO, (VERIFY, WHOAMI)),
}
RUN_CLI = "\nfrom ccare.cli import main\nmain()\n"


# --- raw signing rates ----------------------------------------------------------------


def _rate(work: Callable[[], object], seconds: float, threads: int = 1) -> float:
    """Calls per second of `work`, run by `threads` threads for `seconds`."""
    counts = [0] * threads

    def loop(n: int) -> None:
        stop = time.perf_counter() + seconds
        done = 0
        while time.perf_counter() < stop:
            for _ in range(20):
                work()
            done += 20
        counts[n] = done

    began = time.perf_counter()
    pool = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


def crypto_rates(seconds: float) -> dict[str, dict[str, float]]:
    """Raw ccare.core.signing rates on texts shaped like a whoami call and its answer."""
    request = native_content("2" * 16, secrets.token_hex(16), 1_700_000_000_000, "GET", WHOAMI, b"")
    body = b'{"app_id":"2088000000000001","kind":"app","merchant_id":1,"scopes":["catalog"]}'
    answer = response_content(1_700_000_000_000, secrets.token_hex(16), body)
    return {
        algorithm.value: _algorithm_rates(algorithm, request, answer, seconds)
        for algorithm in (SignAlgorithm.RSA2, SignAlgorithm.ED25519)
    }


def _algorithm_rates(
    algorithm: SignAlgorithm, request: bytes, answer: bytes, seconds: float
) -> dict[str, float]:
    app_private = generate_private_key(algorithm)
    platform_key = generate_private_key(algorithm)
    app_key = app_private.public_key()
    signature = sign(app_private, request)

    def sign_answer() -> None:
        sign(platform_key, answer)

    def verify_request() -> None:
        assert verify(app_key, request, signature)

    def signed_call() -> None:
        # What the server does per signed call: verify the request, sign the answer.
        verify_request()
        sign_answer()

    return {
        "sign_per_s": _rate(sign_answer, seconds),
        "verify_per_s": _rate(verify_request, seconds),
        "verify_and_sign_per_s": _rate(signed_call, seconds),
        "sign_2_threads_per_s": _rate(sign_answer, seconds, 2),
    }


# --- signed headers, made before a phase ----------------------------------------------

_WORKER_KEYS: dict[str, PrivateKey] = {}


def _load_worker_keys(pems: dict[str, str]) -> None:
    _WORKER_KEYS.update({algorithm: load_private_key(pem) for algorithm, pem in pems.items()})


def _sign_headers(app_id: str, algorithm: str, path: str, count: int) -> list[str]:
    key = _WORKER_KEYS[algorithm]
    return [authorization_header(app_id, key, "GET", path, b"") for _ in range(count)]


def signed_headers(
    pool: ProcessPoolExecutor, app: App, path: str, count: int, workers: int
) -> deque[str]:
    chunk = math.ceil(count / (workers * 4))
    jobs = [
        pool.submit(_sign_headers, app.app_id, app.algorithm.value, path, chunk)
        for _ in range(math.ceil(count / chunk))
    ]
    return deque(h for job in jobs for h in job.result())


# --- the server -----------------------------------------------------------------------


def cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "ccare.cli", *args], env=env, check=True)


def create_missing_tables(url: str) -> list[str]:
    """Tables of the models that the migrations do not create (yet); created here."""
    from sqlalchemy import inspect

    import ccare.core.idempotency  # noqa: F401  (registers the core tables)
    import ccare.core.outbox  # noqa: F401
    import ccare.products  # noqa: F401  (registers every product's tables)
    from ccare.core.db import Base, Database

    db = Database(url)
    try:
        existing = set(inspect(db.engine).get_table_names())
        missing = [t for t in Base.metadata.sorted_tables if t.name not in existing]
        Base.metadata.create_all(db.engine, tables=missing)
    finally:
        db.dispose()
    return [t.name for t in missing]


def start_server(
    env: dict[str, str], port: int, log: Path, worker: bool, patch: str = ""
) -> subprocess.Popen[bytes]:
    entry = ["-c", patch + RUN_CLI] if patch else ["-m", "ccare.cli"]
    command = [
        sys.executable,
        *entry,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-check-assets",
        "--worker" if worker else "--no-worker",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not start:\n{log.read_text()}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    total = sum(ticks[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


# --- clients --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class Client(Protocol):
    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer: ...

    def close(self) -> None: ...


class RawClient:
    """GET over one keep-alive HTTP/1.1 connection: tens of microseconds of client CPU a call.

    httpx spends about as much CPU per call as the server does on /api/v1/hello; on a
    2-core machine shared with the server that would make the clients part of what is
    measured.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def _read(self, sock: socket.socket) -> None:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n{extra}\r\n"
        reused = self.sock is not None
        sock = self.sock = self.sock or self._connect()
        try:
            sock.sendall(request.encode("latin-1"))
            self._read(sock)
        except OSError:
            # A kept-alive connection the server closed while idle (uvicorn's keep-alive
            # timeout is 5 s; signing the next phase's headers can take longer): nothing
            # was answered, so the request goes again on a new one, as HTTP clients do.
            self.close()
            if not reused:
                raise
            sock = self.sock = self._connect()
            sock.sendall(request.encode("latin-1"))
            self._read(sock)
        try:
            while (end := self.buffer.find(b"\r\n\r\n")) < 0:
                self._read(sock)
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            self.buffer = self.buffer[end + 4 :]
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            status = int(lines[0].split(" ", 2)[1])
            length = 0 if status in (204, 304) else int(fields["content-length"])
            while len(self.buffer) < length:
                self._read(sock)
        except Exception:
            self.close()
            raise
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Answer(status, fields, body)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class HttpxClient:
    """One keep-alive httpx.Client, as bench/order_pay_http.py uses."""

    def __init__(self, port: int) -> None:
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        r = self.http.get(path, headers=headers)
        return Answer(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)

    def close(self) -> None:
        self.http.close()


CLIENTS: dict[str, Callable[[int], Client]] = {"raw": RawClient, "httpx": HttpxClient}


# --- phases ---------------------------------------------------------------------------


@dataclass
class Run:
    phase: Phase
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    machine_busy_s: float = 0.0
    machine_total_s: float = 0.0
    exhausted: int = 0
    samples: list[Answer] = field(default_factory=list)
    best_block_rate: float = 0.0  # merged runs: the fastest block's calls per second

    @property
    def server_ms_per_call(self) -> float:
        count = len(self.phase.latencies)
        return self.server_cpu_s / count * 1000 if count else float("nan")

    def summary(self) -> dict[str, object]:
        seconds = self.phase.seconds
        return {
            **self.phase.summary(),
            "server_cpu_ms_per_call": round(self.server_ms_per_call, 3),
            "server_cores_busy": round(self.server_cpu_s / seconds, 2),
            "client_cores_busy": round(self.client_cpu_s / seconds, 2),
            "machine_busy_fraction": round(self.machine_busy_s / self.machine_total_s, 3),
            # Everything else on the machine during the phase: should be near 0. (Clock-tick
            # rounding of the three readings can make it a little negative.)
            "other_cores_busy": round(
                max(0.0, self.machine_busy_s - self.server_cpu_s - self.client_cpu_s) / seconds, 2
            ),
            "headers_ran_out": self.exhausted,
        }


def run_phase(
    name: str,
    seconds: float,
    warmup: float,
    server_pid: int,
    workers: list[Callable[[list[Answer]], None]],
) -> Run:
    """Each worker runs in its own thread until time is up; only post-warm-up work counts.

    A worker that raises IndexError has run out of signed headers and stops.
    """
    run = Run(Phase(name))
    lock = threading.Lock()
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds

    def loop(work: Callable[[list[Answer]], None]) -> None:
        mine: list[float] = []
        kept: list[Answer] = []
        errors = exhausted = 0
        while (began := time.perf_counter()) < stop_at:
            try:
                work(kept)
            except IndexError:
                exhausted = 1
                break
            except Exception as exc:
                errors += 1
                if errors <= 3:
                    print(f"{name}: {exc}", file=sys.stderr)
                continue
            if began >= measure_from:
                mine.append(time.perf_counter() - began)
        with lock:
            run.phase.latencies.extend(mine)
            run.phase.errors += errors
            run.exhausted += exhausted
            run.samples.extend(kept[-SAMPLES_PER_CLIENT:])

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    server0, client0, (busy0, total0) = process_cpu(server_pid), time.process_time(), machine_cpu()
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    server1, client1, (busy1, total1) = process_cpu(server_pid), time.process_time(), machine_cpu()
    for t in threads:
        t.join()
    run.phase.seconds = seconds
    run.server_cpu_s = server1 - server0
    run.client_cpu_s = client1 - client0
    run.machine_busy_s = busy1 - busy0
    run.machine_total_s = total1 - total0
    return run


def worker(
    client: Client, path: str, status: int, headers: deque[str] | None
) -> Callable[[list[Answer]], None]:
    """GET `path`, signed with the next of `headers` when given; keeps a few answers."""

    def work(kept: list[Answer]) -> None:
        signed = {"Authorization": headers.popleft()} if headers is not None else None
        r = client.get(path, headers=signed)
        if r.status != status:
            raise RuntimeError(f"{path}: {r.status} {r.body!r}")
        if len(kept) < SAMPLES_PER_CLIENT:
            kept.append(r)

    return work


def check_answers(run: Run, path: str, app_id: str, platform: PublicKey) -> int:
    """How many sampled answers are right: whoami names the app and is signed by the
    platform; verify's 204 carries no signature (there is no body to vouch for)."""
    good = 0
    for r in run.samples:
        if path == VERIFY:
            good += r.status == 204 and "ccare-signature" not in r.headers
            continue
        content = response_content(r.headers["ccare-timestamp"], r.headers["ccare-nonce"], r.body)
        signature = r.headers["ccare-signature"]
        if json.loads(r.body)["app_id"] == app_id and verify(platform, content, signature):
            good += 1
    return good


# --- main -------------------------------------------------------------------------------


@dataclass
class App:
    algorithm: SignAlgorithm
    app_id: str
    key: PrivateKey
    platform: PublicKey


def create_apps(base: str, keys: dict[SignAlgorithm, PrivateKey]) -> list[App]:
    with httpx.Client(base_url=base, timeout=60) as http:
        r = http.post("/api/v1/auth/login", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD})
        r.raise_for_status()
        staff = {"Authorization": f"Bearer {r.json()['token']}"}
        apps = []
        for algorithm, key in keys.items():
            body = {
                "name": f"Bench {algorithm.value}",
                "scopes": ["catalog"],
                "public_key": export_public_key(key.public_key()),
            }
            r = http.post("/api/v1/apps", json=body, headers=staff)
            if r.status_code != 201:
                raise SystemExit(f"creating the {algorithm.value} app: {r.status_code} {r.text}")
            app_id = r.json()["app_id"]
            r = http.get("/api/v1/platform-key", params={"algorithm": algorithm.value})
            r.raise_for_status()
            apps.append(App(algorithm, app_id, key, load_public_key(r.json()["public_key"])))
    return apps


def merge(into: Run | None, run: Run) -> Run:
    run.best_block_rate = max(run.best_block_rate, run.phase.rate)
    if into is None:
        return run
    into.best_block_rate = max(into.best_block_rate, run.best_block_rate)
    into.phase.latencies.extend(run.phase.latencies)
    into.phase.errors += run.phase.errors
    into.phase.seconds += run.phase.seconds
    into.server_cpu_s += run.server_cpu_s
    into.client_cpu_s += run.client_cpu_s
    into.machine_busy_s += run.machine_busy_s
    into.machine_total_s += run.machine_total_s
    into.exhausted += run.exhausted
    into.samples.extend(run.samples)
    return into


@dataclass
class Target:
    """One running server and what is measured on it: (path, app) after hello."""

    name: str
    port: int
    pid: int
    signed: list[tuple[str, App]]
    check: bool  # check the sampled answers (the diagnostics' signatures are fake)
    runs: dict[str, Run] = field(default_factory=dict)


def measure_block(
    target: Target, args: argparse.Namespace, pool: ProcessPoolExecutor, block: float
) -> int:
    """Hello, then each signed call, `block` seconds each; returns the headers signed."""
    clients = [CLIENTS[args.client](target.port) for _ in range(args.clients)]
    try:
        workers = [worker(c, HELLO, 200, None) for c in clients]
        hello = run_phase("hello", block, args.warmup, target.pid, workers)
        target.runs["hello"] = merge(target.runs.get("hello"), hello)
        most = 0
        for path, app in target.signed:
            name = f"{path.rsplit('/', 1)[1]} {app.algorithm.value}"
            # Enough headers for the phase's best rate so far (hello's in the first block).
            known = target.runs.get(name)
            rate = known.best_block_rate if known else hello.phase.rate
            count = math.ceil(rate * (block + args.warmup) * HEADER_MARGIN) + args.clients
            most = max(most, count)
            headers = signed_headers(pool, app, path, count, args.signers)
            status = 204 if path == VERIFY else 200
            workers = [worker(c, path, status, headers) for c in clients]
            run = run_phase(name, block, args.warmup, target.pid, workers)
            if run.exhausted:
                print(f"{name}: {run.exhausted} clients ran out of headers", file=sys.stderr)
            if target.check:
                good = check_answers(run, path, app.app_id, app.platform)
                if good != len(run.samples):
                    raise SystemExit(f"{name}: {len(run.samples) - good} wrong answers")
            target.runs[name] = merge(target.runs.get(name), run)
    finally:
        for client in clients:
            client.close()
    return most


def ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def best_rates(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """The higher of the two measurements: what the machine can do when nothing disturbs it."""
    return {a: {k: max(v, after[a][k]) for k, v in r.items()} for a, r in before.items()}


def run_servers(
    args: argparse.Namespace, keys: dict[SignAlgorithm, PrivateKey]
) -> tuple[list[Target], int]:
    """Start every server, then measure them in turns, block by block; most headers a block.

    The servers run side by side (idle when not measured), so that a slower stretch of the
    machine falls on all of them alike.
    """
    pems = {a.value: export_private_key(k) for a, k in keys.items()}
    with (
        tempfile.TemporaryDirectory(prefix="ccare-bench-") as tmp,
        ProcessPoolExecutor(args.signers, initializer=_load_worker_keys, initargs=(pems,)) as pool,
    ):
        tmpdir = Path(tmp)
        env = {
            **os.environ,
            "CCARE_DATABASE_URL": f"sqlite:///{tmpdir / 'bench.sqlite3'}",
            "CCARE_DATA_DIR": str(tmpdir),
            "CCARE_ANALYTICS_PATH": str(tmpdir / "analytics0.duckdb"),
            "CCARE_BROKER_URL": "",
            "CCARE_REDIS_URL": "",
            "CCARE_APP_RATE_LIMIT_PER_MINUTE": "100000000",
        }
        cli(env, "db", "upgrade")
        missing = create_missing_tables(env["CCARE_DATABASE_URL"])
        if missing:
            print(f"not in the migrations, created: {', '.join(missing)}", file=sys.stderr)
        cli(
            env,
            *("create", "merchant", "--name", "Bench Breakfast", "--industry", "catering"),
            *("--city", "Hangzhou", "--owner-email", OWNER_EMAIL),
            *("--owner-password", OWNER_PASSWORD),
        )
        worker = not args.no_worker
        variants = [("ccare serve", "")]
        variants += [(name, DIAGNOSTICS[name][0]) for name in args.diagnostics]
        servers: list[subprocess.Popen[bytes]] = []
        targets: list[Target] = []
        try:
            for n, (name, patch) in enumerate(variants):
                port = free_port()
                # DuckDB's file takes one process: each server has its own analytics store.
                own = {**env, "CCARE_ANALYTICS_PATH": str(tmpdir / f"analytics{n}.duckdb")}
                servers.append(start_server(own, port, tmpdir / f"server{n}.log", worker, patch))
                if n == 0:
                    apps = create_apps(f"http://127.0.0.1:{port}", keys)
                rsa = next(a for a in apps if a.algorithm is SignAlgorithm.RSA2)
                if n == 0:  # the real server: both endpoints, both algorithms
                    signed = [(path, app) for app in apps for path in (VERIFY, WHOAMI)]
                else:
                    signed = [(path, rsa) for path in DIAGNOSTICS[name][1]]
                targets.append(Target(name, port, servers[-1].pid, signed, check=n == 0))
            most = 0
            for _ in range(args.blocks):
                for target in targets:
                    count = measure_block(target, args, pool, args.seconds / args.blocks)
                    most = max(most, count)
        finally:
            for server in servers:
                stop_server(server)
    return targets, most


def diagnostics(value: str) -> list[str]:
    names = [] if value.strip() == "none" else [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in DIAGNOSTICS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown diagnostics {unknown}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per phase")
    parser.add_argument("--blocks", type=int, default=5, help="alternating blocks per phase")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds per block")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (K)")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw", help="HTTP client")
    parser.add_argument("--crypto-seconds", type=float, default=2, help="per raw signing rate")
    parser.add_argument("--signers", type=int, default=os.cpu_count() or 2, help="header signers")
    parser.add_argument("--no-worker", action="store_true", help="serve without the worker")
    parser.add_argument(
        "--diagnostics",
        type=diagnostics,
        default="no-response-signing,no-crypto",
        help=f"comma-separated diagnostic servers to run beside ccare's, or 'none'"
        f" (known: {', '.join(DIAGNOSTICS)})",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.seconds / args.blocks + args.warmup > 240:
        raise SystemExit("headers are signed before a block: keep it under the 5-minute window")

    keys = {a: generate_private_key(a) for a in (SignAlgorithm.RSA2, SignAlgorithm.ED25519)}
    crypto_before = crypto_rates(args.crypto_seconds)
    targets, count = run_servers(args, keys)
    crypto_after = crypto_rates(args.crypto_seconds)
    crypto = best_rates(crypto_before, crypto_after)
    servers = {t.name: t.runs for t in targets}

    real = servers["ccare serve"]
    hello = real["hello"]
    rates = {name: run.phase.rate for name, run in real.items()}
    raw_rsa, raw_ed = crypto["RSA2"], crypto["ED25519"]
    rsa_call_ms = 1000 / raw_rsa["verify_and_sign_per_s"]
    whoami_ms = real["whoami RSA2"].server_ms_per_call
    figures = {
        # 1. The verify-only check against the same server's hello; and whoami, which also
        #    answers with a body that the server signs.
        "verify_rsa2_per_hello": ratio(rates["verify RSA2"], hello.phase.rate),
        "whoami_rsa2_per_hello": ratio(rates["whoami RSA2"], hello.phase.rate),
        "response_signing_server_cpu_ms": round(
            whoami_ms - real["verify RSA2"].server_ms_per_call, 3
        ),
        # 2. Signed answers against twice the raw RSA-2048 signing rate of one thread.
        "whoami_rsa2_per_2x_sign_rate": ratio(rates["whoami RSA2"], 2 * raw_rsa["sign_per_s"]),
        "hello_per_2x_sign_rate": ratio(hello.phase.rate, 2 * raw_rsa["sign_per_s"]),
        "sign_2_threads_per_1_thread": ratio(
            raw_rsa["sign_2_threads_per_s"], raw_rsa["sign_per_s"]
        ),
        # ...and against one thread's verify + sign: one server process is about one core.
        "whoami_rsa2_per_verify_and_sign_rate": ratio(
            rates["whoami RSA2"], raw_rsa["verify_and_sign_per_s"]
        ),
        "whoami_rsa2_raw_crypto_share_of_server_cpu": ratio(rsa_call_ms, whoami_ms),
        # 3. Ed25519 against RSA2, over HTTP and raw.
        "ed25519_per_rsa2_whoami": ratio(rates["whoami ED25519"], rates["whoami RSA2"]),
        "ed25519_per_rsa2_verify": ratio(rates["verify ED25519"], rates["verify RSA2"]),
        "ed25519_per_rsa2_raw_verify_and_sign": ratio(
            raw_ed["verify_and_sign_per_s"], raw_rsa["verify_and_sign_per_s"]
        ),
        "ed25519_per_rsa2_raw_sign": ratio(raw_ed["sign_per_s"], raw_rsa["sign_per_s"]),
        "ed25519_per_rsa2_raw_verify": ratio(raw_ed["verify_per_s"], raw_rsa["verify_per_s"]),
    }
    for name, runs in servers.items():
        if name == "ccare serve":
            continue
        key = name.replace("-", "_")
        for phase, run in runs.items():
            if phase == "hello":
                continue
            base = phase.replace(" ", "_").lower()
            # Each server against its own hello, and the server CPU a call it saves.
            figures[f"{key}:{base}_per_hello"] = ratio(run.phase.rate, runs["hello"].phase.rate)
            saved = real[phase].server_ms_per_call - run.server_ms_per_call
            figures[f"{key}:{base}_server_cpu_ms_saved"] = round(saved, 3)

    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "clients": args.clients,
        "client": args.client,
        "seconds": args.seconds,
        "blocks": args.blocks,
        "worker": not args.no_worker,
        "most_signed_headers_per_block": count,
        "crypto_per_s": {a: {k: round(v, 1) for k, v in r.items()} for a, r in crypto.items()},
        "crypto_per_s_before": crypto_before,
        "crypto_per_s_after": crypto_after,
        "servers": {
            server: {phase: run.summary() for phase, run in runs.items()}
            for server, runs in servers.items()
        },
        "figures": figures,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print()
    print(f"machine   {result['machine']}")
    print(
        f"{args.clients} {args.client} clients; {args.seconds:g} s per phase"
        f" in {args.blocks} blocks; up to {count} signed headers per block"
    )
    for algorithm, r in crypto.items():
        print(
            f"raw {algorithm:<8} sign {r['sign_per_s']:>8.0f}/s"
            f"   verify {r['verify_per_s']:>8.0f}/s"
            f"   verify+sign {r['verify_and_sign_per_s']:>8.0f}/s"
            f"   sign x2 threads {r['sign_2_threads_per_s']:>8.0f}/s"
        )
    for server, runs in servers.items():
        for phase, run in runs.items():
            s = run.summary()
            print(
                f"{server + ': ' + phase:<36}{s['rate_per_s']:>8.1f}/s"
                f"   p50 {s['p50_ms']:>6.2f} ms   p99 {s['p99_ms']:>6.2f} ms"
                f"   server {s['server_cpu_ms_per_call']:.3f} ms CPU/call"
                f"   cores: server {s['server_cores_busy']:.2f}"
                f" clients {s['client_cores_busy']:.2f} other {s['other_cores_busy']:.2f}"
                f"   errors {s['errors']}"
            )
    f = figures
    print(
        f"1. verify RSA2 / hello = {f['verify_rsa2_per_hello']:.3f} (goal 0.70);"
        f" whoami RSA2 / hello = {f['whoami_rsa2_per_hello']:.3f};"
        f" signing the answer costs {f['response_signing_server_cpu_ms']:.3f} ms server CPU"
    )
    print(
        f"2. whoami RSA2 / (2 x RSA sign rate) = {f['whoami_rsa2_per_2x_sign_rate']:.3f}"
        f" (goal 0.70); hello / (2 x sign) = {f['hello_per_2x_sign_rate']:.3f};"
        f" whoami RSA2 / (1 x verify+sign) = {f['whoami_rsa2_per_verify_and_sign_rate']:.3f}"
    )
    print(
        f"3. ED25519 / RSA2: whoami {f['ed25519_per_rsa2_whoami']:.2f},"
        f" verify {f['ed25519_per_rsa2_verify']:.2f} (goal 5);"
        f" raw verify+sign {f['ed25519_per_rsa2_raw_verify_and_sign']:.2f},"
        f" sign {f['ed25519_per_rsa2_raw_sign']:.2f}, verify {f['ed25519_per_rsa2_raw_verify']:.2f}"
    )
    for name, value in f.items():
        if ":" in name:
            print(f"   {name} = {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
