"""Every query of this product, run against the analytics store (the dashboard reads no OLTP
table). The expressions are built in queries.py; this class runs them for one merchant,
already resolved within the caller's tenant by the service, and hands back plain rows.
Without an analytics store every answer is empty."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ccare.core.analytics import AnalyticsStore
from ccare.dashboard import queries


class DashboardRepository:
    def __init__(self, analytics: AnalyticsStore | None, merchant_id: int) -> None:
        self.analytics = analytics
        self.merchant_id = merchant_id
        self._events: Any = None

    @property
    def events(self) -> Any:
        if self._events is None and self.analytics is not None:
            self._events = self.analytics.events_table()
        return self._events

    def _rows(self, build: Any, *args: Any) -> list[dict[str, Any]]:
        if self.analytics is None:
            return []
        rows: list[dict[str, Any]] = (
            build(self.events, self.merchant_id, *args).to_pyarrow().to_pylist()
        )
        return rows

    def new_customers(self, first: int, last: int, now: datetime) -> list[dict[str, Any]]:
        return self._rows(queries.new_customers, first, last, now)

    def daily_active(self, first: int, last: int) -> list[dict[str, Any]]:
        return self._rows(queries.daily_active, first, last)

    def weekly_active(self, first: int, last: int) -> list[dict[str, Any]]:
        return self._rows(queries.weekly_active, first, last)

    def repeat_visits(self, first: int, last: int, split: int) -> list[dict[str, Any]]:
        return self._rows(queries.repeat_visits, first, last, split)

    def favorite_changes(self, first: int, last: int) -> list[dict[str, Any]]:
        return self._rows(queries.favorite_changes, first, last)

    def favoriters(self, before: datetime) -> int:
        if self.analytics is None:
            return 0
        value = queries.favoriters(self.events, self.merchant_id, before).to_pyarrow().as_py()
        return int(value or 0)

    def daily_sales(self, first: int, last: int) -> list[dict[str, Any]]:
        return self._rows(queries.daily_sales, first, last)

    def buyers(self, first: int, last: int, split: int) -> list[dict[str, Any]]:
        return self._rows(queries.buyers, first, last, split)

    def spend(self, first: int, last: int, split: int) -> list[dict[str, Any]]:
        return self._rows(queries.spend, first, last, split)
