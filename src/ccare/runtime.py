"""The process-wide runtime: settings, database, analytics store and worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from ccare.config import Settings, get_settings
from ccare.core.analytics import AnalyticsStore, open_analytics
from ccare.core.db import Database
from ccare.core.nonces import InProcessNonceStore, NonceStore, open_nonce_store
from ccare.core.ratelimit import InProcessRateLimiter, RateLimiter, open_rate_limiter
from ccare.core.worker import BackgroundWorker


@dataclass
class Runtime:
    settings: Settings
    db: Database
    analytics: AnalyticsStore | None = None
    worker: BackgroundWorker | None = field(default=None, repr=False)
    nonces: NonceStore = field(default_factory=InProcessNonceStore, repr=False)
    rate_limiter: RateLimiter = field(default_factory=InProcessRateLimiter, repr=False)
    # The sandbox world's database (docs/adr/0008); None = no sandbox on this server.
    sandbox: Database | None = None
    sandbox_worker: BackgroundWorker | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, analytics: bool = True) -> Runtime:
        settings = settings or get_settings()
        db = Database(settings.effective_database_url, echo=settings.sql_echo)
        store = (
            open_analytics(settings.analytics_url, settings.effective_analytics_path)
            if analytics
            else None
        )
        redis_url = settings.effective_redis_url or None
        return cls(
            settings=settings,
            db=db,
            analytics=store,
            sandbox=Database(
                settings.effective_sandbox_database_url, echo=settings.sql_echo, world="sandbox"
            ),
            nonces=open_nonce_store(redis_url),
            rate_limiter=open_rate_limiter(redis_url),
        )

    def start_worker(self, *, consume: bool = True, poll: float = 1.0) -> BackgroundWorker:
        import ccare.products  # noqa: F401  (registers events and subscribers)

        self.worker = BackgroundWorker(
            self.db, self.analytics, self.settings.broker_url, poll=poll, settings=self.settings
        )
        self.worker.start(consume=consume)
        if self.sandbox is not None:
            # Sandbox events never reach the broker or the live analytics store.
            self.sandbox_worker = BackgroundWorker(
                self.sandbox, None, "", poll=poll, settings=self.settings
            )
            self.sandbox_worker.start(consume=False)
        return self.worker

    def close(self) -> None:
        if self.worker:
            self.worker.stop()
        if self.sandbox_worker:
            self.sandbox_worker.stop()
        if self.analytics:
            self.analytics.close()
        self.db.dispose()
        if self.sandbox is not None:
            self.sandbox.dispose()
