"""The world simulator (docs/adr/0015): consumers, merchants and scalper rings acting on a
running platform through its public HTTP API only, deterministic for a seed, on a clock
that can run a simulated day in minutes."""
