"""Typed domain events. Products declare theirs in schemas.py with `@domain_event`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ccare.core.time import utcnow

_REGISTRY: dict[str, type[DomainEvent]] = {}

E = TypeVar("E", bound="type[DomainEvent]")


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: ClassVar[str] = ""
    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = Field(default_factory=utcnow)
    merchant_id: int | None = None
    consumer_id: int | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"event_id", "occurred_at"})


def domain_event(type_name: str) -> Callable[[E], E]:
    def register(cls: E) -> E:
        if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
            raise RuntimeError(f"event type {type_name} registered twice")
        cls.type = type_name
        _REGISTRY[type_name] = cls
        return cls

    return register


def rebuild(
    type_name: str, event_id: str, occurred_at: datetime | str, payload: dict[str, Any]
) -> DomainEvent:
    return _REGISTRY[type_name].model_validate(
        {**payload, "event_id": event_id, "occurred_at": occurred_at}
    )
