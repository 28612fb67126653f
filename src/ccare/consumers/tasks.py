"""Consumers react to no other product's events yet."""
