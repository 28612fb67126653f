"""Where a broadcast's recipients come from. A source turns a broadcast's `recipients`
spec into batches of consumer ids; the fan-out does the rest in SQL.

Sources register by kind: `consumers` (a list given with the broadcast) is built in;
another product adds one (a segment's members) with `register_source` from its tasks.py,
without this product knowing its tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.orm import Session

from ccare.core.errors import InvalidInput

# (db, merchant_id, spec, batch size) -> batches of consumer ids
Source = Callable[[Session, int, dict[str, Any], int], Iterator[list[int]]]
_SOURCES: dict[str, Source] = {}


def register_source(kind: str) -> Callable[[Source], Source]:
    def register(fn: Source) -> Source:
        existing = _SOURCES.get(kind)
        if existing is not None and existing is not fn:
            raise RuntimeError(f"recipient source {kind} registered twice")
        _SOURCES[kind] = fn
        return fn

    return register


def kinds() -> list[str]:
    return sorted(_SOURCES)


def batches(db: Session, merchant_id: int, spec: dict[str, Any], size: int) -> Iterator[list[int]]:
    source = _SOURCES.get(str(spec.get("kind")))
    if source is None:
        raise InvalidInput(
            f"unknown recipient source {spec.get('kind')!r} (known: {', '.join(kinds())})",
            code="message.recipients_unknown",
        )
    return source(db, merchant_id, spec, size)


@register_source("consumers")
def consumer_list(
    db: Session, merchant_id: int, spec: dict[str, Any], size: int
) -> Iterator[list[int]]:
    ids = [int(i) for i in spec.get("consumer_ids", [])]
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
