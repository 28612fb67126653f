"""The anti-cheating filter on a labelled synthetic scalper scenario.

    python bench/scalper_filter.py --seed 7
    python bench/scalper_filter.py --seed 7 --json /tmp/scalper_filter.json

Generates the seeded world of `ccare.coupons.scalper_world` (one merchant's daily coupon
drop, ~2,000 genuine consumers, six scalper rings, 27 days of platform history), replays
its claim stream once per strictness with features computed as the stream unfolds, and
prints per strictness: precision and recall of blocking (challenge or reject) and of
rejecting alone against the scalper label, the share of genuine consumers inconvenienced,
and the coupons (and fen at face value) kept from scalpers against the filter switched
off. A challenged claim gets its coupon if the claimer solves the challenge (genuine
consumers 90%, scalpers by ring).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ccare.coupons.antifraud import THRESHOLDS, Strictness
from ccare.coupons.scalper_world import (
    FACE_VALUE_FEN,
    Figures,
    Scenario,
    World,
    evaluate,
    generate,
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _row(f: Figures, off: Figures) -> dict[str, Any]:
    kept = off.scalper_coupons - f.scalper_coupons
    return {
        "strictness": f.strictness.value,
        "thresholds": None if THRESHOLDS[f.strictness] is None else vars(THRESHOLDS[f.strictness]),
        "genuine_claims": f.genuine_claims,
        "scalper_claims": f.scalper_claims,
        "blocked_precision": f.precision,
        "blocked_recall": f.recall,
        "reject_precision": f.reject_precision,
        "reject_recall": f.reject_recall,
        "genuine_claims_blocked": f.blocked_false,
        "genuine_users": f.genuine_users,
        "genuine_users_inconvenienced": f.genuine_inconvenienced,
        "genuine_users_rejected": f.genuine_users_rejected / f.genuine_users,
        "scalper_coupons": f.scalper_coupons,
        "scalper_share_of_stock": f.scalper_share_of_stock,
        "genuine_coupons": f.genuine_coupons,
        "genuine_users_served": f.genuine_users_served,
        "coupons_kept_from_scalpers": kept,
        "budget_kept_fen": kept * FACE_VALUE_FEN,
        "recall_by_ring": f.recall_by_ring,
    }


def _print_table(world: World, rows: list[dict[str, Any]]) -> None:
    off = rows[0]
    print(
        f"stock {world.stock} coupons of {FACE_VALUE_FEN} fen; claims: "
        f"{off['genuine_claims']} genuine ({off['genuine_users']} consumers), "
        f"{off['scalper_claims']} scalper"
    )
    print(
        f"filter off: scalpers take {off['scalper_coupons']} of {world.stock} coupons "
        f"({off['scalper_share_of_stock']:.1%}); {off['genuine_users_served']} genuine "
        "consumers get one\n"
    )
    print(
        "| strictness | blocked P | blocked R | reject P | reject R | genuine inconvenienced "
        "| scalper coupons | kept from scalpers | budget kept (fen) | genuine served |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['strictness']} | {_pct(r['blocked_precision'])} | {_pct(r['blocked_recall'])} "
            f"| {_pct(r['reject_precision'])} | {_pct(r['reject_recall'])} "
            f"| {r['genuine_users_inconvenienced']:.1%} | {r['scalper_coupons']:,} "
            f"({r['scalper_share_of_stock']:.1%}) | {r['coupons_kept_from_scalpers']:,} "
            f"| {r['budget_kept_fen']:,} | {r['genuine_users_served']:,} |"
        )
    rings = list(rows[0]["recall_by_ring"])
    print("\nrecall of blocking, by ring\n")
    print("| strictness | " + " | ".join(rings) + " |")
    print("|---|" + "---|" * len(rings))
    for r in rows[1:]:
        cells = " | ".join(f"{r['recall_by_ring'][ring]:.2f}" for ring in rings)
        print(f"| {r['strictness']} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--genuine", type=int, default=2000)
    parser.add_argument("--ring-scale", type=float, default=1.0)
    parser.add_argument("--daily-stock", type=int, default=800)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    scenario = Scenario(args.seed, args.genuine, args.ring_scale, daily_stock=args.daily_stock)
    world = generate(scenario)
    figures = [evaluate(world, s) for s in Strictness]
    rows = [_row(f, figures[0]) for f in figures]
    seconds = time.perf_counter() - started
    _print_table(world, rows)
    print(f"\n{len(world.attempts):,} attempts on the platform, {seconds:.1f} s")
    if args.json:
        out = {
            "scenario": {
                "seed": scenario.seed,
                "genuine": scenario.genuine,
                "ring_scale": scenario.ring_scale,
                "days": scenario.days,
                "daily_stock": scenario.daily_stock,
                "face_value_fen": FACE_VALUE_FEN,
                "rings": [vars(r) for r in scenario.rings],
            },
            "results": rows,
            "seconds": seconds,
        }
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
