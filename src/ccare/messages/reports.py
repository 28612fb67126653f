"""The delivery funnel, an Ibis expression over the analytics store's `events` table (each
transition's event lands there once), so it runs on DuckDB and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from ccare.core.analytics import payload_int
from ccare.messages.schemas import FunnelOut

STEPS = ("sent", "delivered", "opened", "clicked", "converted")


def funnel(
    analytics: Any,
    merchant_id: int,
    *,
    template_id: int | None = None,
    broadcast_id: int | None = None,
) -> FunnelOut:
    counts = dict.fromkeys(STEPS, 0)
    converted_fen = 0
    if analytics is not None:
        t = analytics.events_table()
        rows = t.filter(
            t.type.isin([f"message.{s}" for s in STEPS]) & (t.merchant_id == merchant_id)
        )
        if template_id is not None:
            rows = rows.filter(payload_int(rows, "template_id") == template_id)
        if broadcast_id is not None:
            rows = rows.filter(payload_int(rows, "broadcast_id") == broadcast_id)
        expr = rows.group_by("type").aggregate(n=rows.count(), fen=rows.amount.sum())
        for row in expr.to_pyarrow().to_pylist():
            step = str(row["type"]).removeprefix("message.")
            counts[step] = int(row["n"])
            if step == "converted":
                converted_fen = int(row["fen"] or 0)
    return FunnelOut(
        merchant_id=merchant_id,
        template_id=template_id,
        broadcast_id=broadcast_id,
        converted_fen=converted_fen,
        **counts,
    )
