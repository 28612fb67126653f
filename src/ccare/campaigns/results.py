"""What a campaign changed: conversion and GMV of the treatment arm against the random
holdout, over each member's own conversion window, read from the analytics events.

The uplift is the difference of the two conversion rates with a 95% Newcombe (hybrid
score) interval — statsmodels' `confint_proportions_2indep`, which stays sensible for
small arms and rates near 0 or 1, where the plain Wald interval does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ccare.campaigns.models import Arm, Campaign
from ccare.campaigns.schemas import ArmResult, CampaignResults
from ccare.core.analytics import payload_int

CONFIDENCE = 0.95


def _members_table(rows: list[tuple[int, str, datetime, int | None]]) -> Any:
    import ibis
    import pyarrow as pa

    return ibis.memtable(
        pa.table(
            {
                "m_consumer": pa.array([r[0] for r in rows], pa.int64()),
                "arm": pa.array([r[1] for r in rows], pa.string()),
                "assigned_at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
                "coupon": pa.array([r[3] for r in rows], pa.int64()),
            }
        )
    )


def per_arm(
    events: Any, merchant_id: int, rows: list[tuple[int, str, datetime, int | None]], days: int
) -> dict[str, dict[str, int]]:
    """Per arm: members, converters, GMV less refunds and coupon discounts used, each
    counted only inside the member's window [chosen, chosen + days)."""
    import ibis

    out = {arm.value: {"members": 0, "converters": 0, "gmv": 0, "cost": 0} for arm in Arm}
    for _consumer, arm, _at, _coupon in rows:
        out[arm]["members"] += 1
    if not rows or events is None:
        return out
    m = _members_table(rows)
    e = events.filter(
        (events.merchant_id == merchant_id)
        & events.type.isin(["order.paid", "order.refunded", "coupon.used"])
    )
    j = m.inner_join(
        e,
        [
            m.m_consumer == e.consumer_id,
            e.occurred_at >= m.assigned_at,
            e.occurred_at < m.assigned_at + ibis.interval(days=days),
        ],
    )
    paid = j.type == "order.paid"
    amount = j.amount.fill_null(0)
    own_coupon = (j.type == "coupon.used") & (payload_int(j, "coupon_id") == j.coupon)
    per_member = j.group_by(["arm", "m_consumer"]).aggregate(
        orders=ibis.cases((paid, 1), else_=0).sum(),
        gmv=ibis.cases((paid, amount), (j.type == "order.refunded", -amount), else_=0).sum(),
        cost=ibis.cases((own_coupon, payload_int(j, "discount_fen")), else_=0).sum(),
    )
    totals = per_member.group_by("arm").aggregate(
        converters=ibis.cases((per_member.orders > 0, 1), else_=0).sum(),
        gmv=per_member.gmv.sum(),
        cost=per_member.cost.sum(),
    )
    for row in totals.to_pyarrow().to_pylist():
        for key in ("converters", "gmv", "cost"):
            out[row["arm"]][key] = int(row[key] or 0)
    return out


def _arm(arm: Arm, figures: dict[str, int]) -> ArmResult:
    n = figures["members"]
    return ArmResult(
        arm=arm,
        members=n,
        converters=figures["converters"],
        conversion_rate=figures["converters"] / n if n else 0.0,
        gmv_fen=figures["gmv"],
        gmv_per_member_fen=figures["gmv"] / n if n else 0.0,
    )


def uplift_interval(
    converted_t: int, n_t: int, converted_h: int, n_h: int
) -> tuple[float, float] | None:
    if n_t == 0 or n_h == 0:
        return None
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(
        converted_t, n_t, converted_h, n_h, method="newcomb", compare="diff", alpha=1 - CONFIDENCE
    )
    return float(low), float(high)


def compute(
    analytics: Any,
    campaign: Campaign,
    rows: list[tuple[int, str, datetime, int | None]],
    now: datetime,
) -> CampaignResults:
    events = analytics.events_table() if analytics is not None else None
    figures = per_arm(events, campaign.merchant_id, rows, campaign.conversion_days)
    t = _arm(Arm.TREATMENT, figures[Arm.TREATMENT])
    h = _arm(Arm.HOLDOUT, figures[Arm.HOLDOUT])
    interval = uplift_interval(t.converters, t.members, h.converters, h.members)
    both = interval is not None
    uplift = t.conversion_rate - h.conversion_rate if both else None
    incremental_gmv = (
        round((t.gmv_per_member_fen - h.gmv_per_member_fen) * t.members) if both else 0
    )
    cost = figures[Arm.TREATMENT]["cost"]
    return CampaignResults(
        campaign_id=campaign.id,
        as_of=now,
        conversion_days=campaign.conversion_days,
        treatment=t,
        holdout=h,
        uplift=uplift,
        uplift_low=interval[0] if interval else None,
        uplift_high=interval[1] if interval else None,
        significant=bool(interval and (interval[0] > 0 or interval[1] < 0)),
        incremental_conversions=(uplift or 0.0) * t.members,
        incremental_gmv_fen=incremental_gmv,
        cost_fen=cost,
        roi=(incremental_gmv - cost) / cost if cost else None,
    )
