"""A planted effect against the campaign report, at scale: does the uplift's 95% interval
cover the truth about as often as it says?

    python bench/world_uplift.py                                  # 5,000 consumers, 5 seeds
    python bench/world_uplift.py --consumers 8000 --seeds 1 2 3 --json out.json

For each seed, a fresh SQLite platform (in-process app, its own DuckDB analytics) gets a
simulated world built through the API (`ccare.sim.world.build`, wallets left empty: one
merchant, N consumers), and `ccare.sim.effects.recall` runs: everyone favorites the shop
and consents to its recall template; the merchant targets its followers with a campaign
(holdout 50%, window 7 days); each consumer reads its inbox and buys with probability
base + effect if the recall is there, base if not; the merchant reads
`GET /campaigns/{id}/results`.
Between steps this script runs the worker's jobs (outbox into analytics, due campaign
rounds, broadcast fan-out, released messages), as the worker would.

The campaign's holdout seed (random on the platform) is pinned per seed, so a run replays.
Prints per seed the arms, converters, true effect, measured uplift and its interval; then
the share of seeds whose interval covers the truth, and the times.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

import ccare.products  # noqa: F401  (registers every table)
from ccare.campaigns import service as campaigns
from ccare.core import security
from ccare.sim import cast, effects, world
from ccare.sim.api import Api
from ccare.web.app import create_app
from sim_platform import fresh_platform, worker

OPERATOR = ("op@uplift.bench", "operator-pass")


def one_seed(seed: int, consumers: int, plan: effects.Plan, work: Path) -> dict[str, Any]:
    runtime = fresh_platform(work, f"uplift-{seed}", OPERATOR)
    campaigns.secrets = SimpleNamespace(token_hex=lambda n: f"{seed:0{2 * n}x}")  # type: ignore[assignment]
    started = time.perf_counter()
    with TestClient(create_app(runtime)) as client:
        api = Api(client)
        people = cast.draw(seed, merchants=1, consumers=consumers, rings=0)
        built = world.build(api, people, *OPERATOR, top_up=False)
        worker(runtime)  # what registration announced, before the scenario's clock starts
        build_s = time.perf_counter() - started
        out = effects.recall(api, built, lambda: worker(runtime), plan, tag=f"recall-{seed}")
        errors = api.stats.errors()
        calls = api.stats.total()
    runtime.close()
    return {
        "seed": seed,
        **asdict(out),
        "truth": out.truth,
        "covered": out.covered,
        "calls": calls,
        "errors": errors,
        "build_s": round(build_s, 1),
        "scenario_s": round(time.perf_counter() - started - build_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consumers", type=int, default=5_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--base", type=float, default=0.05)
    parser.add_argument("--effect", type=float, default=0.03)
    parser.add_argument("--holdout", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    security.use_work_factor(2**8)  # throwaway accounts
    plan = effects.Plan(base=args.base, effect=args.effect, holdout_percent=args.holdout)
    print(
        f"{args.consumers} consumers, base {plan.base}, effect {plan.effect}, holdout"
        f" {plan.holdout_percent}%, window {plan.conversion_days} days"
    )
    print("seed  treated  held  conv_t  conv_h   true   measured  [low, high]          covers")
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ccare-uplift-") as tmp:
        for seed in args.seeds:
            r = one_seed(seed, args.consumers, plan, Path(tmp))
            rows.append(r)
            conv_t, conv_h = r["converters"]
            print(
                f"{seed:>4}  {r['treated']:>7}  {r['held_out']:>4}  {conv_t:>6}  {conv_h:>6}"
                f"  {r['truth']:.4f}  {r['uplift']:+.4f}   [{r['low']:+.4f}, {r['high']:+.4f}]"
                f"  {'yes' if r['covered'] else 'NO'}"
                f"   ({r['received']} received, build {r['build_s']} s,"
                f" scenario {r['scenario_s']} s, {r['calls']} calls, {r['errors']} errors)",
                flush=True,
            )
    total_s = time.perf_counter() - started
    covered = sum(r["covered"] for r in rows)
    mean = sum(r["uplift"] for r in rows) / len(rows)
    print(f"covered: {covered}/{len(rows)} = {covered / len(rows):.0%} of seeds")
    print(f"mean measured uplift {mean:+.4f} (true {plan.effect:.4f})")
    print(f"run time {total_s:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"json": str(args.json)},
                    "rows": rows,
                    "run_s": round(total_s, 1),
                },
                indent=2,
            )
        )
    if any(r["errors"] or r["bought"] != r["converters"] for r in rows):
        sys.exit("the platform did not count what the simulator did")


if __name__ == "__main__":
    main()
