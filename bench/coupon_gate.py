"""The Redis claim gate against a same-run raw EVALSHA from the same client.

    python bench/coupon_gate.py --seconds 10
    python bench/coupon_gate.py --redis-url redis://127.0.0.1:6379/14 --json out.json

K threads share one `redis.Redis` client (one connection pool), as the server's threads
do. Phases alternate in `--blocks` blocks:

- `raw EVALSHA`: the smallest useful script, `DECR` of one key, called through
  `register_script` (EVALSHA) — the floor of a Lua round trip from this client;
- `claim gate`: `ccare.coupons.gate.ClaimGate.admit` for a claim with the usual limits
  (a per-user lifetime counter, a per-user daily counter and the activity's daily cap),
  users drawn from a pool, against a stock that never runs out during a block.

The figure is claim-gate admissions per second / raw EVALSHA calls per second (goal
>= 0.50). After the phases a sold-out check runs: a stock of `--stock` and K threads
claiming until refused must admit exactly the stock and leave it at 0 (0 oversold).
The keys live under a prefix of their own and are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import redis

from ccare.core.errors import Conflict
from ccare.coupons.gate import PREFIX, ClaimGate, Limit, stock_key
from order_pay_http import machine

RAW = "return redis.call('DECR', KEYS[1])"
ACTIVITY = 990_000_001  # far from any real activity id
USERS = 5_000


class _Session:
    """What `admit` needs of a session: somewhere to keep its tickets."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


def _limits(user: int) -> list[Limit]:
    refusal = Conflict("limit", code="coupon.user_limit_reached")
    return [
        Limit(f"user:{user}:life", 1_000_000, lambda: 0, refusal),
        Limit(f"user:{user}:d:2026-11-24", 1_000_000, lambda: 0, refusal),
        Limit("activity:d:2026-11-24", 10**12, lambda: 0, refusal),
    ]


def _run(threads: int, seconds: float, work: Any) -> tuple[int, float]:
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def loop(n: int) -> None:
        done = 0
        while time.perf_counter() < stop:
            work(n, done)
            done += 1
        counts[n] = done

    began = time.perf_counter()
    pool = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts), time.perf_counter() - began


def sold_out_check(
    gate: ClaimGate, client: redis.Redis, threads: int, stock: int
) -> dict[str, int]:
    activity = ACTIVITY + 1
    client.set(stock_key(activity), stock)
    admitted = [0] * threads
    lock = threading.Lock()
    refused = 0

    def claim(n: int) -> None:
        nonlocal refused
        user = n
        while True:
            try:
                gate.admit(_Session(), activity, lambda: 0, _limits(user))  # type: ignore[arg-type]
            except Conflict:
                with lock:
                    refused += 1
                return
            admitted[n] += 1
            user += threads

    pool = [threading.Thread(target=claim, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    left = int(client.get(stock_key(activity)) or 0)
    return {
        "stock": stock,
        "admitted": sum(admitted),
        "left": left,
        "oversold": sum(admitted) - stock,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--seconds", type=float, default=10, help="measured seconds per phase")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--stock", type=int, default=20_000, help="for the sold-out check")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    client = redis.Redis.from_url(args.redis_url)
    gate = ClaimGate(client)
    raw = client.register_script(RAW)
    raw_key = f"{PREFIX}bench:raw"
    client.set(raw_key, 10**15)
    client.set(stock_key(ACTIVITY), 10**15)

    def raw_call(n: int, i: int) -> None:
        raw(keys=[raw_key])

    def gate_call(n: int, i: int) -> None:
        user = (n * 7919 + i) % USERS
        gate.admit(_Session(), ACTIVITY, lambda: 0, _limits(user))  # type: ignore[arg-type]

    totals = {"raw": [0, 0.0], "gate": [0, 0.0]}
    try:
        _run(args.threads, 1.0, raw_call)  # warm up: connections, script cache
        _run(args.threads, 1.0, gate_call)
        block = args.seconds / args.blocks
        for _ in range(args.blocks):
            for name, work in (("raw", raw_call), ("gate", gate_call)):
                count, seconds = _run(args.threads, block, work)
                totals[name][0] += count
                totals[name][1] += seconds
        check = sold_out_check(gate, client, args.threads, args.stock)
    finally:
        for key in client.scan_iter(PREFIX + "*"):
            if key.decode().startswith((f"{PREFIX}{ACTIVITY}", f"{PREFIX}bench")):
                client.delete(key)

    rates = {name: count / seconds for name, (count, seconds) in totals.items()}
    ratio = rates["gate"] / rates["raw"]
    report = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "raw_evalsha_per_s": round(rates["raw"]),
        "claim_gate_per_s": round(rates["gate"]),
        "claim_gate_per_raw_evalsha": round(ratio, 4),
        "sold_out_check": check,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(
        f"\n{args.threads} threads, one client;"
        f" {args.seconds:g} s per phase in {args.blocks} blocks"
    )
    print(f"raw EVALSHA  {rates['raw']:9.0f}/s")
    print(f"claim gate   {rates['gate']:9.0f}/s")
    print(f"claim gate / raw EVALSHA = {ratio:.3f} (goal 0.50)")
    print(
        f"sold out: stock {check['stock']}, admitted {check['admitted']}, left {check['left']},"
        f" oversold {check['oversold']}"
    )


if __name__ == "__main__":
    main()
