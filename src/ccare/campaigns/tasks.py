"""The worker's campaign rounds, and the recipient source that lets a broadcast carry a
round's message to its treatment arm (and never to its holdout)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from ccare.campaigns import rounds
from ccare.campaigns.models import Arm
from ccare.campaigns.repository import CampaignRepository
from ccare.config import Settings
from ccare.core.analytics import AnalyticsStore
from ccare.core.db import Database
from ccare.core.tenancy import Tenant
from ccare.core.worker import poller
from ccare.messages.recipients import register_source

# Due campaigns are looked for at most this often when there was nothing to do.
CHECK_EVERY_SECONDS = 15.0

_next_check: dict[str, float] = {}


@poller("campaigns.rounds")
def run_due(db: Database, settings: Settings, analytics: AnalyticsStore | None) -> int:
    now = time.monotonic()
    if now < _next_check.get(db.url, 0.0):
        return 0
    ran = rounds.run_due(db, analytics)
    if not ran:
        _next_check[db.url] = now + CHECK_EVERY_SECONDS
    return ran


@register_source("campaign")
def treatment_of_round(
    db: Session, merchant_id: int, spec: dict[str, Any], size: int
) -> Iterator[list[int]]:
    repo = CampaignRepository(db, Tenant(merchant_ids=frozenset({merchant_id})))
    return repo.round_batches(int(spec["campaign_id"]), int(spec["round"]), Arm.TREATMENT, size)
