"""Ledger: double-entry accounts, journal entries and postings in integer fen."""
