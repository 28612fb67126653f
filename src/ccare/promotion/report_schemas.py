"""Responses of the promotion reports (灯火 数据报表): metrics per plan, ad group, creative,
local day or placement, and their totals."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import Field

from ccare.core.schemas import Output


class ReportBy(StrEnum):
    PLAN = "plan"
    GROUP = "group"
    CREATIVE = "creative"
    DAY = "day"
    PLACEMENT = "placement"


class AdMetrics(Output):
    impressions: int
    clicks: int = Field(description="billed, free and unfunded clicks; invalid ones are not")
    invalid_clicks: int = Field(description="clicks the invalid-click filter refused")
    spend_fen: int = Field(
        description="what impressions and clicks cost, summed in milli-fen and rounded down"
        " to whole fen; bookings (prepaid) and free exposure (points) cost nothing here"
    )
    ctr_bp: int | None = Field(
        description="clicks ÷ impressions in basis points (1234 = 12.34%), rounded half up;"
        " null without impressions"
    )
    conversions: int
    conversion_value_fen: int
    cpa_fen: int | None = Field(
        description="spend_fen ÷ conversions, rounded half up; null without conversions"
    )
    roi_bp: int | None = Field(
        description="conversion_value_fen ÷ spend_fen in basis points (25000 = 2.5, as"
        " target_roi_bp), rounded half up; null without spend"
    )


class AdReportRow(AdMetrics):
    """One value of the dimension. Only the fields of that dimension (and, for a group or
    a creative, the plan and group it belongs to) are set."""

    plan_id: int | None = Field(
        default=None, description="by plan, group or creative; null: brand bookings"
    )
    group_id: int | None = Field(default=None, description="by group or creative")
    creative_id: int | None = Field(default=None, description="by creative")
    day: date | None = Field(default=None, description="by day: the local day (UTC+8)")
    placement: str | None = Field(default=None, description="by placement: its key")
    name: str | None = Field(
        default=None,
        description="the plan's or group's name, the creative's title or the placement's"
        " name; null for a day or for brand bookings",
    )


class AdReport(Output):
    merchant_id: int
    by: ReportBy
    start_day: date = Field(description="the first local day counted")
    end_day: date = Field(description="the last local day counted (included)")
    plan_id: int | None = Field(description="the plan filter, if any")
    group_id: int | None = Field(description="the ad group filter, if any")
    rows: list[AdReportRow] = Field(
        description="by day: every day of the range, oldest first; otherwise the values with"
        " traffic, most spend first (then impressions, then id or key)"
    )
    total: AdMetrics = Field(
        description="the whole range; its spend rounds the summed milli-fen once, so it may"
        " pass the sum of the rows' spend by less than a fen a row"
    )
