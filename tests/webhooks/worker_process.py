"""A worker process for the kill test: what `ccare worker` runs (the runtime's background
worker: outbox relay and the webhook delivery loop) for the live database only, minus its
pre-flight checks, which want an Alembic-migrated database where the tests create tables
from the models.

    python -m tests.webhooks.worker_process <database_url> <lease_seconds> <concurrency>
"""

from __future__ import annotations

import sys
import time

import ccare.products  # noqa: F401  (imported before any fork: the children start warm)
from ccare.config import Settings
from ccare.core.db import Database
from ccare.runtime import Runtime


def run(database_url: str, lease_seconds: float, concurrency: int) -> None:
    settings = Settings(
        database_url=database_url,
        broker_url="",
        webhook_lease_seconds=lease_seconds,
        webhook_concurrency=concurrency,
        # A slow answer on a loaded machine times out and is retried; compress the
        # 4-minute first retry so the test waits for it in well under a second.
        webhook_retry_scale=0.001,
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = Runtime(settings=settings, db=Database(database_url))
    runtime.start_worker(poll=0.05)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    run(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
