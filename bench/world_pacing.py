"""An advertiser's day at scale: does pacing spend a daily budget along the day's traffic?

    python bench/world_pacing.py                                # 3,000 consumers, 3 seeds
    python bench/world_pacing.py --consumers 6000 --seeds 1 --shares 0.2 --json out.json

For each seed and budget share, a fresh SQLite platform (in-process app) on a simulated
clock standing at a Monday's local midnight; `ccare.sim.scenarios.pacing.ads_day` builds
two advertisers and N consumers through the API, then plays the day's feed openings (each
consumer's visits by their rhythm) moving the platform's clock to each. The open plan is on
every feed, so its impressions are the traffic; the paced plan's daily budget is `share`
of what that traffic would cost it. The baseline, from the same run: an unpaced plan with
that budget, shown on every feed until it runs dry.

Prints per run the budget, the share spent (ad report), when the unpaced plan would have
run dry, the paced plan's last impression, and the largest gap between the cumulative
hourly delivery and the traffic (paced, and unpaced as the baseline), with their ratio.
The platform's pacing draws are seeded per seed, so a run replays.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

import ccare.products  # noqa: F401  (registers every table)
from ccare.core import security
from ccare.core.time import BEIJING, SimulatedClock, use_clock
from ccare.core.worker import InProcessTransport, drain
from ccare.promotion import decisions, serving
from ccare.sim.api import Api
from ccare.sim.scenarios import pacing
from ccare.web.app import create_app
from sim_platform import fresh_platform

OPERATOR = ("op@pacing.bench", "operator-pass")
DAY_ZERO = datetime(2026, 11, 2, tzinfo=BEIJING)


def one_run(seed: int, share: float, consumers: int, cpm: int, work: Path) -> dict[str, Any]:
    runtime = fresh_platform(work, f"pacing-{seed}-{share}", OPERATOR)
    db = runtime.db
    serving.PACING_DRAWS = np.random.default_rng(seed)
    decisions.CHOICES = random.Random(seed)
    clock = SimulatedClock(DAY_ZERO)
    use_clock(clock)
    started = time.perf_counter()
    try:
        with TestClient(create_app(runtime)) as client:
            api = Api(client)
            api.now = clock  # sessions renew by the platform's time
            day = pacing.ads_day(
                api,
                OPERATOR,
                seed=seed,
                consumers=consumers,
                clock=lambda second: clock.move_to(DAY_ZERO + timedelta(seconds=second)),
                advance=lambda: drain(db, InProcessTransport(db, runtime.analytics)),
                budget_share=share,
                cpm_fen=cpm,
            )
            errors = api.stats.errors()
    finally:
        use_clock(None)
        runtime.close()
    return {
        "seed": seed,
        "share": share,
        **asdict(day),
        "spent_share": day.spent_share,
        "gap": day.gap,
        "unpaced_gap": day.unpaced_gap,
        "errors": errors,
        "seconds": round(time.perf_counter() - started, 1),
    }


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def clock_text(minute: int | None) -> str:
    return "never" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consumers", type=int, default=3_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.3, 0.6])
    parser.add_argument("--cpm", type=int, default=2_000, help="fen per 1,000 impressions")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    security.use_work_factor(2**8)  # throwaway accounts
    print(f"{args.consumers} consumers, the paced plan pays {args.cpm} fen per mille")
    print("seed  share  feeds  budget  spent   unpaced dry  last ad   gap    unpaced gap  ratio")
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ccare-pacing-") as tmp:
        for seed in args.seeds:
            for share in args.shares:
                r = one_run(seed, share, args.consumers, args.cpm, Path(tmp))
                rows.append(r)
                print(
                    f"{seed:>4}  {share:>5}  {sum(r['traffic']):>5}  {r['budget_fen']:>6}"
                    f"  {r['spent_share']:>6.1%}  {clock_text(r['dry_minute']):>11}"
                    f"  {clock_text(r['last_minute']):>7}  {r['gap']:.3f}"
                    f"  {r['unpaced_gap']:>11.3f}  {ratio(r['gap'], r['unpaced_gap'])}"
                    f"   ({r['calls']} calls,"
                    f" {r['errors']} errors, {r['seconds']} s)",
                    flush=True,
                )
    mean_gap = sum(r["gap"] for r in rows) / len(rows)
    mean_unpaced = sum(r["unpaced_gap"] for r in rows) / len(rows)
    mean_spent = sum(r["spent_share"] for r in rows) / len(rows)
    print(
        f"mean: spent {mean_spent:.1%} of budget; gap {mean_gap:.3f} paced vs"
        f" {mean_unpaced:.3f} unpaced = {ratio(mean_gap, mean_unpaced)} of the baseline"
    )
    print(f"run time {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2)
        )
    if any(r["errors"] for r in rows):
        sys.exit("server errors")


if __name__ == "__main__":
    main()
