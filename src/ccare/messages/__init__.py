"""Subscription messages: templates, consent, frequency caps, quiet hours, the app inbox."""
