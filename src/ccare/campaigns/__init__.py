"""Campaigns: a segment or a trigger, a message and/or a coupon, a random holdout."""
