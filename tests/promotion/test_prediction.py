"""pCTR/pCVR model: learning, cold-start prior, calibration, serialisation, bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from ccare.promotion.prediction import EPS, Model, PredictionError, evaluate, tokens
from ccare.promotion.simlogs import LogRecord, LogSimulator, simulate

N_TRAIN, N_CALIB, N_HOLD = 40_000, 10_000, 10_000


@pytest.fixture(scope="module")
def logs() -> list[LogRecord]:
    return simulate(N_TRAIN + N_CALIB + N_HOLD, seed=11)


def _train(rows: list[LogRecord], **kwargs: Any) -> Model:
    model = Model(**kwargs)
    for i in range(0, len(rows), 2000):
        chunk = rows[i : i + 2000]
        model.learn_many([r.features for r in chunk], [r.clicked for r in chunk])
    return model


@pytest.fixture(scope="module")
def trained(logs: list[LogRecord]) -> Model:
    return _train(logs[:N_TRAIN])


def _split(logs: list[LogRecord]) -> tuple[list[LogRecord], list[LogRecord]]:
    return logs[N_TRAIN : N_TRAIN + N_CALIB], logs[N_TRAIN + N_CALIB :]


def test_simulator_is_seeded_and_has_signal() -> None:
    a, b = simulate(500, seed=3), simulate(500, seed=3)
    assert [(r.ts, r.features, r.clicked, r.converted) for r in a] == [
        (r.ts, r.features, r.clicked, r.converted) for r in b
    ]
    assert [r.features for r in simulate(500, seed=4)] != [r.features for r in a]
    assert all(0.0 < r.true_ctr < 1.0 and 0.0 < r.true_cvr < 1.0 for r in a)
    assert all(not r.converted or r.clicked for r in a)
    search = [r for r in a if r.features["placement"] == "search_results"]
    assert search and all(1 <= len(r.features["query_terms"]) <= 2 for r in search)
    with pytest.raises(ValueError):
        LogSimulator(mean_ctr=0.0)


def test_learning_raises_auc_well_above_chance(logs: list[LogRecord], trained: Model) -> None:
    _, hold = _split(logs)
    ys = [r.clicked for r in hold]
    preds = trained.predict_many([r.features for r in hold])
    ours = evaluate(ys, preds)
    rate = sum(r.clicked for r in logs[:N_TRAIN]) / N_TRAIN
    base = evaluate(ys, [rate] * len(ys))
    assert base.auc == 0.5
    assert ours.auc > 0.66
    assert ours.log_loss < base.log_loss * 0.97
    # deterministic: the same seed and the same batches give the same predictions
    assert _train(logs[:N_TRAIN]).predict_many([r.features for r in hold[:200]]) == preds[:200]


def test_unseen_ad_group_gets_the_placement_prior(trained: Model) -> None:
    fresh = Model(prior_mean=0.02, prior_strength=100)
    assert fresh.predict({"placement": "home_feed", "ad_group": 1}) == pytest.approx(0.02)
    n, k = trained.placement_counts["home_feed"]
    expected = (k + 0.02 * 100) / (n + 100)
    unseen = {"placement": "home_feed", "ad_group": 999_999, "city": "310100"}
    assert trained.prior("home_feed") == pytest.approx(expected)
    assert trained.predict(unseen) == pytest.approx(expected)
    # an unknown placement gets the global prior
    assert trained.predict({"placement": "new_scene", "ad_group": 999_999}) == pytest.approx(0.02)


def test_prior_blends_until_min_impressions() -> None:
    model = Model(min_impressions=10)
    other = [{"placement": "home_feed", "ad_group": 2}] * 50
    model.learn_many(other, [i % 5 == 0 for i in range(50)])
    f = {"placement": "home_feed", "ad_group": 1}
    model.learn_many([f] * 4, [True, False, False, False])
    raw = float(model._raw([tokens(f)])[0])
    assert model.predict(f) == pytest.approx(0.4 * raw + 0.6 * model.prior("home_feed"))
    model.learn_many([f] * 6, [False] * 6)
    raw = float(model._raw([tokens(f)])[0])
    assert model.predict(f) == pytest.approx(raw)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_matches_mean_prediction_to_observed_rate(
    logs: list[LogRecord], method: str
) -> None:
    calib, hold = _split(logs)
    # a deliberately over-confident model: a large constant learning rate
    model = _train(logs[:N_TRAIN], eta0=0.5)
    before = evaluate([r.clicked for r in hold], model.predict_many([r.features for r in hold]))
    model.calibrate([r.features for r in calib], [r.clicked for r in calib], method=method)  # type: ignore[arg-type]
    on_calib = model.predict_many([r.features for r in calib])
    rate_calib = sum(r.clicked for r in calib) / len(calib)
    assert abs(sum(on_calib) / len(on_calib) - rate_calib) < 0.002
    after = evaluate([r.clicked for r in hold], model.predict_many([r.features for r in hold]))
    assert abs(after.mean_prediction - after.observed_rate) < 0.006
    assert after.ece < before.ece
    assert after.log_loss < before.log_loss


def test_serialisation_round_trips_identical_predictions(
    logs: list[LogRecord], trained: Model
) -> None:
    calib, hold = _split(logs)
    model = Model.from_bytes(trained.to_bytes())
    feats = [r.features for r in hold[:1000]]
    assert model.predict_many(feats) == trained.predict_many(feats)
    model.calibrate([r.features for r in calib], [r.clicked for r in calib])
    copy = Model.from_bytes(model.to_bytes())
    assert copy.predict_many(feats) == model.predict_many(feats)
    # both keep learning identically
    more = hold[:2000]
    for m in (model, copy):
        m.learn_many([r.features for r in more], [r.clicked for r in more])
    assert copy.predict_many(feats) == model.predict_many(feats)
    for bad in (b"", b"garbage", b"CCPM1\nnot zlib", bytes(trained.to_bytes()[:50])):
        with pytest.raises(PredictionError) as err:
            Model.from_bytes(bad)
        assert err.value.code == "promotion.prediction.bad_model_bytes"


def test_predictions_stay_strictly_inside_zero_and_one() -> None:
    model = Model(eta0=1.0, min_impressions=1)
    always = {"placement": "home_feed", "ad_group": 1}
    never = {"placement": "iot", "ad_group": 2}
    for _ in range(30):
        model.learn_many([always] * 50 + [never] * 50, [True] * 50 + [False] * 50)
    hi, lo = model.predict(always), model.predict(never)
    assert 0.0 < lo < 0.001 and 0.999 < hi < 1.0
    # even a model output of exactly 0 or 1 is clipped
    model._raw = lambda rows: np.array([1.0, 0.0][: len(rows)])  # type: ignore[method-assign]
    assert model.predict_many([always, never]) == [1.0 - EPS, EPS]


@pytest.mark.parametrize(
    ("features", "code"),
    [
        ({"placement": "home_feed", "ad_group": 1, "colour": "red"}, "unknown_feature"),
        ({"placement": "home_feed"}, "missing_feature"),
        ({"ad_group": 1}, "missing_feature"),
        ({"placement": "home_feed", "ad_group": True}, "bad_feature"),
        ({"placement": "home_feed", "ad_group": 1.5}, "bad_feature"),
        ({"placement": "home_feed", "ad_group": ""}, "bad_feature"),
        ({"placement": 3, "ad_group": 1}, "bad_feature"),
        ({"placement": "home_feed", "ad_group": 1, "hour_of_week": 168}, "bad_feature"),
        ({"placement": "home_feed", "ad_group": 1, "hour_of_week": -1}, "bad_feature"),
        ({"placement": "home_feed", "ad_group": 1, "hour_of_week": "3"}, "bad_feature"),
        ({"placement": "home_feed", "ad_group": 1, "query_terms": "咖啡"}, "bad_feature"),
        ({"placement": "home_feed", "ad_group": 1, "query_terms": ["咖啡", 3]}, "bad_feature"),
        (["placement", "home_feed"], "bad_features"),
    ],
)
def test_bad_features_are_refused(features: Any, code: str) -> None:
    model = Model()
    with pytest.raises(PredictionError) as err:
        model.predict(features)
    assert err.value.code == f"promotion.prediction.{code}"
    with pytest.raises(PredictionError):
        model.learn(features, True)
    assert model.placement_counts == {} and model.group_impressions == {}


def test_bad_labels_and_batches_change_nothing() -> None:
    model = Model()
    ok = {"placement": "home_feed", "ad_group": 1}
    for label in ("yes", 2, None, 0.5):
        with pytest.raises(PredictionError) as err:
            model.learn(ok, label)  # type: ignore[arg-type]
        assert err.value.code == "promotion.prediction.bad_label"
    with pytest.raises(PredictionError) as err:
        model.learn_many([ok, ok], [True])
    assert err.value.code == "promotion.prediction.bad_batch"
    with pytest.raises(PredictionError):
        model.learn_many([ok, {"placement": "x", "ad_group": 2, "bad": 1}], [True, False])
    assert model.placement_counts == {} and model.group_impressions == {}
    with pytest.raises(PredictionError) as err:
        model.calibrate([ok], [True])
    assert err.value.code == "promotion.prediction.not_fitted"
    model.learn(ok, True)
    with pytest.raises(PredictionError) as err:
        model.calibrate([ok, ok], [True, True])
    assert err.value.code == "promotion.prediction.bad_batch"
    with pytest.raises(PredictionError) as err:
        model.calibrate([ok, ok], [True, False], method="magic")  # type: ignore[arg-type]
    assert err.value.code == "promotion.prediction.bad_parameter"
    with pytest.raises(PredictionError):
        Model(prior_mean=1.0)
    assert model.predict_many([]) == []


def test_evaluate_exact_values() -> None:
    e = evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], bins=2)
    assert e.auc == 0.75
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert e.log_loss == pytest.approx(expected)
    assert e.ece == pytest.approx(0.5 * 0.275 + 0.5 * 0.1)
    assert [(b.count, b.observed_rate) for b in e.reliability] == [(2, 0.5), (2, 0.5)]
    assert e.reliability[0].mean_prediction == pytest.approx(0.225)
    assert e.positives == 2 and e.n == 4
    for preds in ([0.0, 0.5], [0.5, 1.0], [0.5, 1.5]):
        with pytest.raises(PredictionError) as err:
            evaluate([0, 1], preds)
        assert err.value.code == "promotion.prediction.bad_prediction"
    with pytest.raises(PredictionError):
        evaluate([0, 1], [0.5])
    assert math.isnan(evaluate([1, 1], [0.5, 0.6]).auc)


@pytest.mark.parametrize("method", [None, "platt", "isotonic"])
def test_one_at_a_time_equals_batched(logs: list[LogRecord], method: str | None) -> None:
    calib, hold = _split(logs)
    model = Model.from_bytes(_train(logs[:4000]).to_bytes())
    if method:
        model.calibrate([r.features for r in calib], [r.clicked for r in calib], method=method)  # type: ignore[arg-type]
    feats = [r.features for r in hold[:300]]
    batched = model.predict_many(feats)  # more rows than the small-batch path takes
    single = [model.predict(f) for f in feats]
    assert single == pytest.approx(batched, rel=1e-12, abs=1e-15)
