"""Online learning of pCTR and pCVR from the platform's own logs.

Impressions are learned once they are old enough for their click to have come (a click
arrives within seconds or minutes; `CLICK_DELAY` waits longer), clicks once their
conversion window for learning has passed. Each run learns the next batch in one
`partial_fit` and stores the model with how far it has read, so a run that fails learns
nothing and the next one starts from the same place.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.time import local_time
from ccare.promotion import prediction
from ccare.promotion.decisions import CVR_PRIOR_MEAN
from ccare.promotion.models import AdImpression
from ccare.promotion.prediction import Model
from ccare.promotion.repository import ServingRepository

CLICK_DELAY = timedelta(minutes=30)
CONVERSION_DELAY = timedelta(days=1)
BATCH = 20_000


def features_of(impression: AdImpression) -> dict[str, Any]:
    return prediction.features(
        placement=impression.placement,
        ad_group=impression.group_id or 0,
        advertiser=impression.merchant_id,
        creative=impression.creative_id,
        hour_of_week=prediction.hour_of_week(local_time(impression.decided_at)),
        city=impression.city,
        member_level=impression.member_level,
        query_terms=prediction.query_terms(impression.query),
    )


def _model(repo: ServingRepository, kind: str) -> tuple[Model, int]:
    state = repo.model(kind)
    if state is None:
        prior = 0.02 if kind == "ctr" else CVR_PRIOR_MEAN
        return Model(prior_mean=prior), 0
    return Model.from_bytes(state.blob), state.learned_until_id


def learn_clicks(db: Session, now: datetime) -> int:
    repo = ServingRepository(db)
    model, after = _model(repo, "ctr")
    batch = repo.impressions_to_learn(after, now - CLICK_DELAY, BATCH)
    if not batch:
        return 0
    clicked = repo.clicked([i.id for i in batch])
    model.learn_many([features_of(i) for i in batch], [i.id in clicked for i in batch])
    repo.save_model("ctr", model.to_bytes(), batch[-1].id, len(batch), now)
    return len(batch)


def learn_conversions(db: Session, now: datetime) -> int:
    repo = ServingRepository(db)
    model, after = _model(repo, "cvr")
    batch = repo.clicks_to_learn(after, now - CONVERSION_DELAY, BATCH)
    if not batch:
        return 0
    converted = repo.converted([c.id for c, _ in batch])
    model.learn_many([features_of(i) for _, i in batch], [c.id in converted for c, _ in batch])
    repo.save_model("cvr", model.to_bytes(), batch[-1][0].id, len(batch), now)
    return len(batch)
