"""The `ccare` command: serve, demo, worker, db, create, seed.

Operator mistakes (a bad database URL, an unreachable server, a port in use, missing
front-end assets, a rule a service refuses) print one red line and exit with status 2;
only bugs produce tracebacks.
"""

from ccare.cli.commands import app, main

__all__ = ["app", "main"]
