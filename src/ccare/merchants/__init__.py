"""Merchants: the tenants, their stores (offline locations) and their console staff."""
