"""Consumers: users of the super-app, their member level, credit score and devices."""
