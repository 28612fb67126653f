"""What serving knows of a consumer, kept per process so a warm decision reads nothing.

A decision needs the consumer's city, member level and segments, today's impressions per
ad group (frequency caps) and the plans they converted on (exclude-converted). Read from
the database that is four queries, more than the index and the auction together. Here
they are read once and kept for `TTL_SECONDS`; what this process records meanwhile (an
impression, a conversion) is added to the kept counts at once, so caps and exclusions are
exact for traffic this process tracks and at most `TTL_SECONDS` late for traffic another
process tracks. A profile change (city, level, segments) likewise shows within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from ccare.core.time import local_date, local_day_start

TTL_SECONDS = 30.0
MAX_VIEWERS = 50_000  # per database; least recently asked leave first


@dataclass(slots=True)
class Viewer:
    city: str | None
    member_level: str
    segments: frozenset[int]
    day: date
    impressions_today: dict[int, int]  # ad group -> count, this local day
    converted_plans: set[int]
    loaded_at: float = field(default_factory=time.monotonic)

    def counts(self) -> tuple[dict[int, int], frozenset[int]]:
        """Copies of the counts, safe to read while other requests add to them."""
        with _LOCK:
            return dict(self.impressions_today), frozenset(self.converted_plans)


_CACHES: dict[int, OrderedDict[int, Viewer]] = {}
_LOCK = threading.Lock()


def _cache(db: Session) -> OrderedDict[int, Viewer]:
    key = id(db.get_bind())
    cache = _CACHES.get(key)
    if cache is None:
        cache = _CACHES.setdefault(key, OrderedDict())
    return cache


def _load(db: Session, consumer_id: int, now: datetime) -> Viewer:
    from ccare.consumers import service as consumers
    from ccare.promotion.repository import ServingRepository
    from ccare.segments import service as segments

    consumer = consumers.get_consumer(db, consumer_id)
    repo = ServingRepository(db)
    day = local_date(now)
    return Viewer(
        city=consumer.city,
        member_level=str(consumer.member_level),
        segments=segments.segments_of(db, consumer_id),
        day=day,
        impressions_today=repo.impressions_today(consumer_id, local_day_start(day)),
        converted_plans=set(repo.converted_plans(consumer_id)),
    )


def viewer(db: Session, consumer_id: int, now: datetime) -> Viewer:
    cache = _cache(db)
    found = cache.get(consumer_id)
    if (
        found is not None
        and found.day == local_date(now)
        and time.monotonic() - found.loaded_at < TTL_SECONDS
    ):
        with _LOCK:
            if consumer_id in cache:
                cache.move_to_end(consumer_id)
        return found
    loaded = _load(db, consumer_id, now)
    with _LOCK:
        cache[consumer_id] = loaded
        cache.move_to_end(consumer_id)
        while len(cache) > MAX_VIEWERS:
            cache.popitem(last=False)
    return loaded


def note_impression(db: Session, consumer_id: int, group_id: int, at: datetime) -> None:
    found = _cache(db).get(consumer_id)
    if found is not None and found.day == local_date(at):
        with _LOCK:
            found.impressions_today[group_id] = found.impressions_today.get(group_id, 0) + 1


def note_conversion(db: Session, consumer_id: int, plan_id: int) -> None:
    found = _cache(db).get(consumer_id)
    if found is not None:
        with _LOCK:
            found.converted_plans.add(plan_id)


def drop(db: Session, consumer_id: int) -> None:
    """Read this consumer afresh at their next decision (their profile changed here)."""
    with _LOCK:
        _cache(db).pop(consumer_id, None)


def forget(bind: object) -> None:
    _CACHES.pop(id(bind), None)
