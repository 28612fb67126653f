"""Scenarios: a situation staged on the platform through its API (a scalper raid, an ad
plan's day, a members' festival), run under different settings and measured with the
platform's own reports."""
