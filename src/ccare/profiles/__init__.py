"""Customer profiles: events merchants send, per-merchant customer profiles and RFM."""
