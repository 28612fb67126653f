"""The ledger reacts to no events; other products call `service.post()` directly."""
