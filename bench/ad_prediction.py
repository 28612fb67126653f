"""Ad prediction: pCTR and pCVR learned online on simulated logs, evaluated on a later holdout
against a same-run baseline (the global mean rate of the training window: AUC 0.5).

    python bench/ad_prediction.py                      # 200k impressions, seed 7
    python bench/ad_prediction.py --impressions 50000  # a quicker run

Split in time order: the first 80% of impressions are learned online in mini-batches, the
next 10% is the calibration window (Platt scaling), the last 10% the holdout. pCVR learns
from the clicks of the same windows. Predictions/s are timed on the holdout, batched and
one at a time.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence

from ccare.promotion.prediction import Evaluation, Model, evaluate
from ccare.promotion.simlogs import LogRecord, simulate


def _row(name: str, e: Evaluation) -> str:
    return (
        f"  {name:<22} AUC {e.auc:.4f}  log loss {e.log_loss:.4f}  ECE {e.ece:.4f}  "
        f"mean pred {e.mean_prediction:.4f} (observed {e.observed_rate:.4f})"
    )


def run(
    name: str,
    train: Sequence[LogRecord],
    calib: Sequence[LogRecord],
    holdout: Sequence[LogRecord],
    label: str,
    batch: int,
    prior_mean: float,
) -> None:
    model = Model(prior_mean=prior_mean)
    t0 = time.perf_counter()
    for i in range(0, len(train), batch):
        chunk = train[i : i + batch]
        model.learn_many([r.features for r in chunk], [getattr(r, label) for r in chunk])
    learn_s = time.perf_counter() - t0
    model.calibrate([r.features for r in calib], [getattr(r, label) for r in calib])
    ys = [bool(getattr(r, label)) for r in holdout]
    feats = [r.features for r in holdout]
    t0 = time.perf_counter()
    preds = model.predict_many(feats)
    batch_s = time.perf_counter() - t0
    single = feats[:2000]
    t0 = time.perf_counter()
    for f in single:
        model.predict(f)
    single_s = time.perf_counter() - t0

    rate = sum(bool(getattr(r, label)) for r in train) / len(train)
    base = evaluate(ys, [rate] * len(ys))
    ours = evaluate(ys, preds)
    oracle = evaluate(ys, [r.true_ctr if label == "clicked" else r.true_cvr for r in holdout])
    print(
        f"{name}: learned {len(train):,} rows in {learn_s:.2f} s "
        f"({len(train) / learn_s:,.0f}/s), holdout {len(ys):,} rows, {ours.positives:,} positive"
    )
    print(_row("model (calibrated)", ours))
    print(_row("baseline (global mean)", base))
    print(_row("oracle (true rates)", oracle))
    gain = 1.0 - ours.log_loss / base.log_loss
    print(
        f"  log loss ratio model/baseline {ours.log_loss / base.log_loss:.3f} "
        f"({gain:.1%} better), AUC lift {ours.auc - 0.5:+.4f}"
    )
    print(
        f"  predictions/s: batched {len(feats) / batch_s:,.0f}, "
        f"one at a time {len(single) / single_s:,.0f}"
    )
    print("  reliability by decile (mean prediction → observed):")
    print(
        "   " + " ".join(f"{b.mean_prediction:.3f}→{b.observed_rate:.3f}" for b in ours.reliability)
    )
    if not math.isfinite(ours.auc):
        print("  (AUC undefined: one class only in the holdout)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--impressions", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=2000, help="mini-batch for learn_many")
    args = ap.parse_args()
    t0 = time.perf_counter()
    logs = simulate(args.impressions, seed=args.seed)
    print(f"simulated {len(logs):,} impressions in {time.perf_counter() - t0:.1f} s")
    a, b = int(len(logs) * 0.8), int(len(logs) * 0.9)
    train, calib, holdout = logs[:a], logs[a:b], logs[b:]
    run("pCTR", train, calib, holdout, "clicked", args.batch, prior_mean=0.03)

    def clicks(rows: Sequence[LogRecord]) -> list[LogRecord]:
        return [r for r in rows if r.clicked]

    run("pCVR", clicks(train), clicks(calib), clicks(holdout), "converted", 200, 0.1)


if __name__ == "__main__":
    main()
