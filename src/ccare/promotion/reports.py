"""Promotion reports: spend, impressions, clicks, CTR, conversions, CPA and ROI by plan,
group, creative, day and placement, from the analytics store's ad.* events."""

from __future__ import annotations
