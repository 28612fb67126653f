"""Notifications to apps: subscriptions, persisted signed deliveries, retries, replay."""
