"""Event subscribers and periodic jobs of this product: none.

The dashboard reads the analytics store at request time (queries.py); every event it needs
is already delivered there by the worker, so there is nothing to keep in step.
"""
