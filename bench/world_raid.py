"""A scalper raid on a coupon drop, played through the API, per strictness of the filter.

    python bench/world_raid.py                                   # 3 seeds, see the defaults
    python bench/world_raid.py --seeds 1 2 --genuine 400 --json out.json

For each seed and strictness, a fresh SQLite platform (in-process app, its own DuckDB
analytics) on a simulated clock plays `ccare.sim.scenarios.raid`: a breakfast shop,
genuine customers with five weeks of claim-and-use history on two other shops, scalper
rings that open accounts the night before and claim in the drop's first minute from two
phones and one line per ring. The platform trusts the simulator as its proxy, so each
claimer's own address reaches the filter (`X-Forwarded-For`); the row "standard, one
address" does not, and shows what the filter's IP rule does when every claim seems to
come from one address. Between days the script runs the worker's jobs, as the worker would.

The baseline is the filter switched off, measured in the same run on the same seeds:
per strictness, the rings' coupons and the customers served as a ratio to `off`, the
customers refused by the filter, the stock left and the budget the risk report says the
filter saved. Fails when the platform's counts differ from what the simulator saw.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import ccare.products  # noqa: F401  (registers every table)
from ccare.core import security
from ccare.core.time import BEIJING, SimulatedClock, use_clock
from ccare.sim.api import Api
from ccare.sim.scenarios import raid
from ccare.web.app import create_app
from sim_platform import fresh_platform, worker

OPERATOR = ("op@raid.bench", "operator-pass")
DAY_ZERO = datetime(2026, 11, 2, tzinfo=BEIJING)  # a Monday, local midnight
ONE_ADDRESS = "standard, one address"


def one_run(seed: int, variant: str, plan: raid.Plan, work: Path) -> dict[str, Any]:
    name = variant.replace(" ", "-").replace(",", "")
    runtime = fresh_platform(
        work,
        f"raid-{seed}-{name}",
        OPERATOR,
        forwarded_allow_ips="" if variant == ONE_ADDRESS else "testclient",
    )
    clock = SimulatedClock(DAY_ZERO)
    use_clock(clock)
    try:
        started = time.perf_counter()
        with TestClient(create_app(runtime)) as client:
            api = Api(client)
            api.now = clock  # sessions renew by the platform's time
            strictness = "standard" if variant == ONE_ADDRESS else variant
            scenario = raid.Raid(
                api, seed, plan, OPERATOR, DAY_ZERO, clock.move_to, partial(worker, runtime)
            )
            out = scenario.play(strictness)
    finally:
        use_clock(None)
        runtime.close()
    wanted = sum(1 for _, who, _ in out.log if who < plan.genuine)
    return {
        "seed": seed,
        "variant": variant,
        **{k: v for k, v in asdict(out).items() if k != "log"},
        "genuine_wanted": wanted,
        "calls": api.stats.total(),
        "errors": api.stats.errors(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def consistent(r: dict[str, Any]) -> bool:
    """What the simulator saw is what the platform reports."""
    blocked = r["decisions"]["challenge"] + r["decisions"]["reject"]
    return (
        r["errors"] == 0
        and r["held"] == r["taken"]
        and r["issued"] == sum(r["taken"]) == r["decisions"]["pass"]
        and blocked == sum(r["blocked"])
        and r["reported_genuine_blocked"] in (None, r["blocked"][1])
    )


def ratio(value: int, baseline: int) -> str:
    return f"{value / baseline:.2f}×" if baseline else "–"


def summary(rows: list[dict[str, Any]], variants: list[str]) -> list[str]:
    def total(variant: str, key: str, i: int | None = None) -> int:
        return sum(r[key] if i is None else r[key][i] for r in rows if r["variant"] == variant)

    rings_off, genuine_off = total("off", "taken", 0), total("off", "taken", 1)
    lines = [
        "| filter | ring coupons | vs off | customers served | vs off | customers refused"
        " | sold out | stock left | budget saved |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        rings, genuine, wanted = (
            total(v, "taken", 0),
            total(v, "taken", 1),
            total(v, "genuine_wanted"),
        )
        refused = total(v, "blocked", 1)
        lines.append(
            f"| {v} | {rings:,} | {ratio(rings, rings_off)} | {genuine:,} of {wanted:,}"
            f" | {ratio(genuine, genuine_off)} | {refused:,} ({refused / max(wanted, 1):.1%})"
            f" | {total(v, 'sold_out'):,} | {total(v, 'remaining'):,}"
            f" | ¥{total(v, 'budget_saved_fen') / 100:,.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--genuine", type=int, default=200)
    parser.add_argument("--rings", type=int, default=3)
    parser.add_argument("--ring-size", type=int, default=40)
    parser.add_argument("--stock", type=int, default=150)
    parser.add_argument("--no-one-address", action="store_true", help="skip that row")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    security.use_work_factor(2**8)  # throwaway accounts
    plan = raid.Plan(
        genuine=args.genuine, rings=args.rings, ring_size=args.ring_size, stock=args.stock
    )
    variants = ["off", "lenient", "standard", "strict"] + (
        [] if args.no_one_address else [ONE_ADDRESS]
    )
    print(
        f"{plan.genuine} customers, {plan.rings} rings of {plan.ring_size} on"
        f" {plan.ring_devices} phones, stock {plan.stock}, seeds {args.seeds}"
    )
    print(
        "seed  filter                  rings  customers  refused  sold out  left  saved ¥"
        "   calls  s"
    )
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ccare-raid-") as tmp:
        for seed in args.seeds:
            for variant in variants:
                r = one_run(seed, variant, plan, Path(tmp))
                rows.append(r)
                print(
                    f"{seed:>4}  {variant:<22}  {r['taken'][0]:>5}  {r['taken'][1]:>4} of"
                    f" {r['genuine_wanted']:<3}  {r['blocked'][1]:>7}  {r['sold_out']:>8}"
                    f"  {r['remaining']:>4}  {r['budget_saved_fen'] / 100:>7,.0f}"
                    f"  {r['calls']:>6}  {r['seconds']:>5}{'' if consistent(r) else '  MISMATCH'}",
                    flush=True,
                )
    print()
    print("\n".join(summary(rows, variants)))
    print(f"\nrun time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2)
        )
    if not all(consistent(r) for r in rows):
        sys.exit("the platform did not count what the simulator did")


if __name__ == "__main__":
    main()
