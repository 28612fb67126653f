"""A jeweller's 520 Members' Day at scale: the festival day against the ordinary day
before it, and the campaign's measured uplift against the effect planted.

    python bench/world_festival.py                                # 2,000 consumers, 5 seeds
    python bench/world_festival.py --consumers 4000 --seeds 1 2 3 --json out.json

For each seed, a fresh SQLite platform (in-process app, its own DuckDB analytics) runs on
a simulated clock standing at midnight on 19 May, and
`ccare.sim.scenarios.festival.members_day` stages the festival through the API: the
world is built (one jeweller, N consumers, about 30% of them platform members), day 0 is
an ordinary day, on the eve the merchant makes the members' segment, the members-only
coupon and the campaign (holdout 50%), and 20 May is the members' day. Between steps this
script runs the worker's jobs (outbox into analytics, due campaign rounds, broadcast
fan-out, released messages), as the worker would. The campaign's holdout seed (random on
the platform) is pinned per seed, so a run replays.

The baseline is measured in the same run: the ordinary day on the merchant's dashboard.
Prints per seed the dashboard's orders, GMV and average order value of both days and their
GMV ratio, the members' and the others' GMV (customer profiles), coupons issued and used,
the campaign's arms, converters and uplift with its 95% interval against the truth; then
the mean ratios, how many intervals cover the truth, and the times.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

import ccare.products  # noqa: F401  (registers every table)
from ccare.campaigns import service as campaigns
from ccare.core import security
from ccare.core.time import BEIJING, SimulatedClock, use_clock
from ccare.sim.api import Api
from ccare.sim.scenarios import festival
from ccare.web.app import create_app
from sim_platform import fresh_platform, worker

OPERATOR = ("op@festival.bench", "operator-pass")
DAY_ZERO = datetime(2026, 5, 19, tzinfo=BEIJING)  # the eve of 520, a Tuesday


def one_seed(seed: int, consumers: int, plan: festival.Plan, work: Path) -> dict[str, Any]:
    runtime = fresh_platform(work, f"festival-{seed}", OPERATOR)
    campaigns.secrets = SimpleNamespace(token_hex=lambda n: f"{seed:0{2 * n}x}")  # type: ignore[assignment]
    clock = SimulatedClock(DAY_ZERO)
    use_clock(clock)
    started = time.perf_counter()
    try:
        with TestClient(create_app(runtime)) as client:
            api = Api(client)
            api.now = clock  # sessions renew by the platform's time
            out = festival.members_day(
                api,
                OPERATOR,
                lambda: worker(runtime),
                lambda second: clock.move_to(DAY_ZERO + timedelta(seconds=second)),
                seed=seed,
                consumers=consumers,
                plan=plan,
            )
            calls, errors = api.stats.total(), api.stats.errors()
    finally:
        use_clock(None)
        runtime.close()
    return {
        "seed": seed,
        **asdict(out),
        "truth": out.truth,
        "covered": out.covered,
        "calls": calls,
        "errors": errors,
        "run_s": round(time.perf_counter() - started, 1),
    }


def ratio(after: int, before: int) -> float:
    return after / before if before else float("nan")


def yuan(fen: float | None) -> str:
    return "-" if fen is None else f"{fen / 100:,.0f}"


def print_seed(r: dict[str, Any]) -> None:
    d0, d1 = r["days"]
    res = r["results"]
    t, h = res["treatment"], res["holdout"]
    aov = [yuan(d["paid_fen"] / d["orders"] if d["orders"] else None) for d in (d0, d1)]
    gains = [ratio(r[k][1]["paid_fen"], r[k][0]["paid_fen"]) for k in ("days", "members", "others")]
    interval = f"[{res['uplift_low']:+.3f}, {res['uplift_high']:+.3f}]"
    print(
        f"{r['seed']:>4}  {d0['orders']:>4} {d1['orders']:>4}"
        f"  {yuan(d0['paid_fen']):>9} {yuan(d1['paid_fen']):>9}  {aov[0]:>6} {aov[1]:>6}"
        f"  {gains[0]:>5.2f}  {gains[1]:>5.2f} {gains[2]:>5.2f}"
        f"  {r['coupons'][0]:>4}/{r['coupons'][1]:<4}"
        f"  {t['members']:>4}/{h['members']:<4} {t['converters']:>4}/{h['converters']:<4}"
        f"  {r['truth']:.3f}  {res['uplift']:+.3f} {interval}"
        f"  {'yes' if r['covered'] else 'NO'}"
        f"   ({r['received']} received, {r['calls']} calls, {r['errors']} errors, {r['run_s']} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consumers", type=int, default=2_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--base", type=float, default=0.1)
    parser.add_argument("--effect", type=float, default=0.3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    security.use_work_factor(2**8)  # throwaway accounts
    plan = festival.Plan(base=args.base, effect=args.effect)
    print(f"{args.consumers} consumers, {plan}")
    print(
        "seed  orders(0,F)  GMV¥ day0   festival  AOV¥ 0      F  ratio  memb  othr"
        "  coupons    arms t/h  conv t/h  true   measured [low, high]     covers"
    )
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ccare-festival-") as tmp:
        for seed in args.seeds:
            rows.append(one_seed(seed, args.consumers, plan, Path(tmp)))
            print_seed(rows[-1])
    total_s = time.perf_counter() - started
    n = len(rows)

    def mean_ratio(key: str) -> float:
        return sum(ratio(r[key][1]["paid_fen"], r[key][0]["paid_fen"]) for r in rows) / n

    covered = sum(r["covered"] for r in rows)
    print(
        f"festival GMV ÷ ordinary GMV: {mean_ratio('days'):.2f}"
        f" (members {mean_ratio('members'):.2f}, others {mean_ratio('others'):.2f}),"
        f" mean over {n} seeds"
    )
    mean_uplift = sum(r["results"]["uplift"] for r in rows) / n
    mean_truth = sum(r["truth"] for r in rows) / n
    print(f"uplift: measured {mean_uplift:+.4f}, true {mean_truth:.4f} (planted {plan.effect})")
    print(f"covered: {covered}/{n} seeds; run time {total_s:.0f} s")
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2)
        )
    if any(
        r["errors"]
        or r["days"] != r["made"]
        or [a["converters"] for a in (r["results"]["treatment"], r["results"]["holdout"])]
        != [a["orders"] for a in r["arms_made"]]
        for r in rows
    ):
        sys.exit("the platform did not count what the simulator did")


if __name__ == "__main__":
    main()
