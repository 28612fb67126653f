"""Click and conversion prediction (pCTR, pCVR) learned online from logged ad events.

Pure Python module: no database, no HTTP. One `Model` class serves both rates: a pCTR model
learns from impressions labelled clicked or not, a pCVR model from clicks labelled converted
or not. Features are a flat mapping (see `FIELDS`), for example::

    {"placement": "home_feed", "ad_group": 42, "advertiser": 7, "creative": 101,
     "city": "310100", "hour_of_week": 33, "member_level": "gold",
     "query_terms": ["咖啡"]}

Library choice: scikit-learn (`requirement: scikit-learn>=1.5`). `FeatureHasher` maps
tokens and crosses (placement×ad group, city×ad group, query term×ad group, ...) into a
fixed sparse space with no vocabulary to grow, and `SGDClassifier(loss="log_loss")` learns
online with `partial_fit` on sparse mini-batches, vectorised in C (about 90k impressions
learned and 100k scored per second in `bench/ad_prediction.py`), where river learns and
scores one dict at a time in Python. scikit-learn also gives the calibrators (`IsotonicRegression`,
Platt scaling by `LogisticRegression`) and the metrics (`roc_auc_score`, `log_loss`), is
maintained by a large team and ships wheels for every platform we run on.

Cold start: every placement keeps a Beta prior on its click rate (a global Beta updated by
that placement's own counts). An ad group's prediction is the prior while it has no
impressions and moves linearly to the model's prediction until it has `min_impressions`.

Calibration: `calibrate(features, labels)` fits Platt scaling (default: monotone, keeps
the ranking, robust with few positives) or isotonic regression on a holdout window of
recent logs so that the mean prediction matches the observed rate.

Serialisation: `to_bytes()` / `Model.from_bytes()` (zlib-compressed pickle behind a
versioned header). Pickle runs code on load: only load bytes this platform wrote and
stored itself, never bytes from a client.
"""

from __future__ import annotations

import math
import pickle
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from scipy.special import expit
from sklearn.feature_extraction import FeatureHasher
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.utils import murmurhash3_32

from ccare.core.errors import DomainError

FIELDS: tuple[str, ...] = (
    "placement",
    "ad_group",
    "advertiser",
    "creative",
    "city",
    "hour_of_week",
    "member_level",
    "query_terms",
)
REQUIRED: tuple[str, ...] = ("placement", "ad_group")
_ID_FIELDS = frozenset({"ad_group", "advertiser", "creative"})
_STR_FIELDS = frozenset({"placement", "city", "member_level"})
CROSSES: tuple[tuple[str, str], ...] = (
    ("placement", "ad_group"),
    ("city", "ad_group"),
    ("member_level", "ad_group"),
    ("placement", "hour_of_week"),
    ("placement", "city"),
)
HOURS_PER_WEEK = 168
EPS = 1e-6  # predictions are clipped to [EPS, 1 - EPS]: never 0 or 1
_MAGIC = b"CCPM1\n"
_SMALL_BATCH = 32  # up to this many rows, hash in Python (no sklearn call overhead)

Calibration = Literal["platt", "isotonic"]


class PredictionError(DomainError):
    code = "promotion.prediction.invalid"


def _bad(code: str, message: str, **details: Any) -> PredictionError:
    return PredictionError(message, code=f"promotion.prediction.{code}", **details)


def _id_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad("bad_feature", f"{name} must be an int or a string", field=name)
    if isinstance(value, str) and not value:
        raise _bad("bad_feature", f"{name} must not be empty", field=name)
    return str(value)


def tokens(features: Mapping[str, Any]) -> list[str]:
    """Validate one feature mapping and return its hashed-feature tokens (with crosses)."""
    if not isinstance(features, Mapping):
        raise _bad("bad_features", "features must be a mapping")
    unknown = sorted(str(k) for k in features if k not in FIELDS)
    if unknown:
        raise _bad("unknown_feature", f"unknown feature {unknown[0]!r}", fields=unknown)
    for name in REQUIRED:
        if features.get(name) is None:
            raise _bad("missing_feature", f"{name} is required", field=name)
    values: dict[str, str] = {}
    terms: list[str] = []
    for name, value in features.items():
        if value is None:
            continue
        if name in _ID_FIELDS:
            values[name] = _id_value(name, value)
        elif name in _STR_FIELDS:
            if not isinstance(value, str) or not value:
                raise _bad("bad_feature", f"{name} must be a non-empty string", field=name)
            values[name] = value
        elif name == "hour_of_week":
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not 0 <= value < HOURS_PER_WEEK
            ):
                raise _bad("bad_feature", "hour_of_week must be an int in [0, 167]", field=name)
            values[name] = str(value)
            values["hour_of_day"] = str(value % 24)
        else:  # query_terms
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise _bad("bad_feature", "query_terms must be a list of strings", field=name)
            for term in value:
                if not isinstance(term, str) or not term:
                    raise _bad("bad_feature", "query_terms must be non-empty strings", field=name)
            terms = sorted(set(value))
    out = [f"{k}={v}" for k, v in values.items()]
    for a, b in CROSSES:
        if a in values and b in values:
            out.append(f"{a}x{b}={values[a]}|{values[b]}")
    group = values["ad_group"]
    for term in terms:
        out.append(f"q={term}")
        out.append(f"qxad_group={term}|{group}")
    return out


def hour_of_week(local: datetime) -> int:
    """Monday 00:00 local time = 0."""
    return local.weekday() * 24 + local.hour


def query_terms(query: str | None) -> list[str]:
    from ccare.promotion.keywords import analyse

    return sorted(analyse(query).canonical) if query else []


def features(
    *,
    placement: str,
    ad_group: int,
    advertiser: int,
    creative: int,
    hour_of_week: int,
    city: str | None = None,
    member_level: str | None = None,
    query_terms: list[str] | None = None,
) -> dict[str, Any]:
    """One row as the models see it, the same when serving and when learning."""
    row: dict[str, Any] = {
        "placement": placement,
        "ad_group": ad_group,
        "advertiser": advertiser,
        "creative": creative,
        "hour_of_week": hour_of_week,
    }
    if city:
        row["city"] = city
    if member_level:
        row["member_level"] = member_level
    if query_terms:
        row["query_terms"] = query_terms
    return row


def _label(value: Any) -> int:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return int(value)
    raise _bad("bad_label", "label must be a bool")


class Model:
    """Online logistic regression on hashed features, with cold-start priors and calibration.

    `predict` / `predict_many` return probabilities strictly inside (0, 1);
    `learn` / `learn_many` update the model (prefer `learn_many` on mini-batches:
    one `partial_fit` per call). Up to 32 rows are scored by hashing in Python and summing
    coefficients directly (no scikit-learn call overhead); larger batches use
    `FeatureHasher`; both give the same indices and, to rounding, the same predictions.
    """

    def __init__(
        self,
        *,
        n_features: int = 2**18,
        alpha: float = 1e-6,
        eta0: float = 0.02,
        prior_mean: float = 0.02,
        prior_strength: float = 100.0,
        min_impressions: int = 200,
        seed: int = 0,
    ) -> None:
        if not 0.0 < prior_mean < 1.0:
            raise _bad("bad_parameter", "prior_mean must be in (0, 1)")
        if prior_strength <= 0 or min_impressions < 1 or n_features < 2:
            raise _bad(
                "bad_parameter",
                "prior_strength, min_impressions and n_features must be positive",
            )
        self.n_features = n_features
        self.prior_a = prior_mean * prior_strength
        self.prior_b = (1.0 - prior_mean) * prior_strength
        self.min_impressions = min_impressions
        self._hasher = FeatureHasher(
            n_features=n_features, input_type="string", alternate_sign=False
        )
        self._sgd = SGDClassifier(
            loss="log_loss",
            penalty="l2",
            alpha=alpha,
            learning_rate="constant",
            eta0=eta0,
            random_state=seed,
        )
        self._fitted = False
        self._calibrator: Any = None
        self.calibration: Calibration | None = None
        self.placement_counts: dict[str, list[int]] = {}  # placement -> [impressions, positives]
        self.group_impressions: dict[str, int] = {}

    # -- priors -----------------------------------------------------------------------------
    def prior(self, placement: str) -> float:
        """Posterior mean of the placement's Beta prior."""
        n, k = self.placement_counts.get(placement, (0, 0))
        return (k + self.prior_a) / (n + self.prior_a + self.prior_b)

    # -- prediction -------------------------------------------------------------------------
    def _raw(self, rows: list[list[str]]) -> np.ndarray:
        """The model's (calibrated) probability for hashed rows, before the prior blend."""
        if not self._fitted:
            return np.zeros(len(rows))
        coef, intercept = self._sgd.coef_[0], float(self._sgd.intercept_[0])
        if len(rows) <= _SMALL_BATCH:
            # few rows (a decision request): hash in Python, skip sklearn's validation cost.
            # Same indices as FeatureHasher(alternate_sign=False): |murmur3_32(token)| % n.
            n = self.n_features
            z = np.array(
                [
                    intercept + sum(coef[abs(murmurhash3_32(t, seed=0)) % n] for t in row)
                    for row in rows
                ]
            )
        else:
            z = self._hasher.transform(rows) @ coef + intercept
        p = np.asarray(expit(z), dtype=float)
        if self.calibration == "platt":
            a, b = self._calibrator
            p = expit(a * np.log(np.clip(p, EPS, 1 - EPS) / np.clip(1 - p, EPS, 1)) + b)
        elif self.calibration == "isotonic":
            xs, ys = self._calibrator
            p = np.interp(p, xs, ys)
        return np.asarray(p, dtype=float)

    def predict_many(self, batch: Iterable[Mapping[str, Any]]) -> list[float]:
        items = list(batch)
        rows = [tokens(f) for f in items]
        if not rows:
            return []
        model = self._raw(rows)
        out: list[float] = []
        for f, p in zip(items, model, strict=True):
            seen = self.group_impressions.get(str(f["ad_group"]), 0)
            w = min(1.0, seen / self.min_impressions) if self._fitted else 0.0
            q = w * float(p) + (1.0 - w) * self.prior(f["placement"])
            out.append(min(1.0 - EPS, max(EPS, q)))
        return out

    def predict(self, features: Mapping[str, Any]) -> float:
        return self.predict_many([features])[0]

    # -- learning ---------------------------------------------------------------------------
    def learn_many(self, batch: Iterable[Mapping[str, Any]], labels: Iterable[Any]) -> None:
        items = list(batch)
        ys = [_label(y) for y in labels]
        if len(items) != len(ys):
            raise _bad("bad_batch", "features and labels differ in length")
        if not items:
            return
        rows = [tokens(f) for f in items]  # validate all before changing any state
        self._sgd.partial_fit(self._hasher.transform(rows), ys, classes=[0, 1])
        self._fitted = True
        for f, y in zip(items, ys, strict=True):
            counts = self.placement_counts.setdefault(f["placement"], [0, 0])
            counts[0] += 1
            counts[1] += y
            g = str(f["ad_group"])
            self.group_impressions[g] = self.group_impressions.get(g, 0) + 1

    def learn(self, features: Mapping[str, Any], clicked: bool) -> None:
        self.learn_many([features], [clicked])

    # -- calibration ------------------------------------------------------------------------
    def calibrate(
        self,
        batch: Iterable[Mapping[str, Any]],
        labels: Iterable[Any],
        *,
        method: Calibration = "platt",
    ) -> None:
        """Fit a calibrator of the model's output on a holdout window (not learned from)."""
        if method not in ("platt", "isotonic"):
            raise _bad("bad_parameter", "method must be 'platt' or 'isotonic'")
        items = list(batch)
        ys = np.array([_label(y) for y in labels])
        if len(items) != len(ys):
            raise _bad("bad_batch", "features and labels differ in length")
        if not self._fitted:
            raise _bad("not_fitted", "learn before calibrating")
        if len(set(ys.tolist())) < 2:
            raise _bad("bad_batch", "calibration needs both outcomes in the window")
        self._calibrator, self.calibration = None, None
        p = self._raw([tokens(f) for f in items])
        if method == "platt":
            z = np.log(np.clip(p, EPS, 1 - EPS) / np.clip(1 - p, EPS, 1))
            platt = LogisticRegression(C=1e6).fit(z.reshape(-1, 1), ys)
            self._calibrator = (float(platt.coef_[0][0]), float(platt.intercept_[0]))
        else:
            iso = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(p, ys)
            self._calibrator = (iso.X_thresholds_.copy(), iso.y_thresholds_.copy())
        self.calibration = method

    # -- serialisation ----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        return _MAGIC + zlib.compress(pickle.dumps(self, protocol=5), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        """Load a model written by `to_bytes` (trusted storage only: pickle runs code)."""
        if not isinstance(data, bytes | bytearray) or not data.startswith(_MAGIC):
            raise _bad("bad_model_bytes", "not a serialised prediction model")
        try:
            model = pickle.loads(zlib.decompress(bytes(data[len(_MAGIC) :])))
        except Exception as exc:  # corrupt or truncated
            raise _bad("bad_model_bytes", "corrupt serialised prediction model") from exc
        if not isinstance(model, cls):
            raise _bad("bad_model_bytes", "not a serialised prediction model")
        return model


# -- offline evaluation ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Bin:
    count: int
    mean_prediction: float
    observed_rate: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    n: int
    positives: int
    auc: float
    log_loss: float
    ece: float  # expected calibration error over equal-count bins
    mean_prediction: float
    observed_rate: float
    reliability: tuple[Bin, ...]


def evaluate(labels: Sequence[Any], predictions: Sequence[float], *, bins: int = 10) -> Evaluation:
    """AUC, log loss, expected calibration error and the reliability table by decile."""
    ys = np.array([_label(y) for y in labels], dtype=float)
    ps = np.asarray(predictions, dtype=float)
    if len(ys) != len(ps) or len(ys) == 0:
        raise _bad("bad_batch", "labels and predictions must be non-empty and equal length")
    if not np.all((ps > 0.0) & (ps < 1.0)):
        raise _bad("bad_prediction", "predictions must lie strictly inside (0, 1)")
    if bins < 1:
        raise _bad("bad_parameter", "bins must be positive")
    positives = int(ys.sum())
    auc = float(roc_auc_score(ys, ps)) if 0 < positives < len(ys) else math.nan
    order = np.argsort(ps, kind="stable")
    table: list[Bin] = []
    ece = 0.0
    for chunk in np.array_split(order, min(bins, len(ps))):
        mp, obs = float(ps[chunk].mean()), float(ys[chunk].mean())
        table.append(Bin(len(chunk), mp, obs))
        ece += len(chunk) / len(ps) * abs(mp - obs)
    return Evaluation(
        n=len(ys),
        positives=positives,
        auc=auc,
        log_loss=float(log_loss(ys, ps, labels=[0, 1])),
        ece=ece,
        mean_prediction=float(ps.mean()),
        observed_rate=float(ys.mean()),
        reliability=tuple(table),
    )
