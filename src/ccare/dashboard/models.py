"""The dashboard has no tables: every number is computed from the analytics `events` table
(queries.py), which the other products fill through the outbox (ADR 0004, 0011)."""
