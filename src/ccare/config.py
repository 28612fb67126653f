"""Settings from the environment (prefix CCARE_) or a .env file."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCARE_", env_file=".env", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    # Empty = in-process worker; "redis://..." = Redis Streams broker (see docs/adr/0003).
    broker_url: str = ""
    analytics_path: str = ""
    # Redis for rate limits and nonces shared by all processes; empty = in-process, or the
    # broker's Redis when the broker is Redis.
    redis_url: str = ""
    # The sandbox world's database (docs/adr/0008); empty = a SQLite file beside the main one.
    sandbox_database_url: str = ""
    # The v1 gateway's `timestamp` is wall-clock time without a zone; Alipay's is Beijing's.
    gateway_timezone: str = "Asia/Shanghai"
    # Per app, per minute, on the native API and the gateway together.
    app_rate_limit_per_minute: int = Field(default=1200, ge=1)
    # Webhook deliveries: how long a worker holds a claimed delivery (its request times out
    # before that, so a live worker never shares one), how many it sends at once, and a
    # factor on the retry schedule (tests shrink 4 minutes to milliseconds).
    webhook_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    webhook_concurrency: int = Field(default=8, ge=1, le=64)
    webhook_retry_scale: float = Field(default=1.0, ge=0, le=1)
    # Empty = the DuckDB file at analytics_path; "postgresql://..." = shared by all processes.
    analytics_url: str = ""
    assets_dir: Path = REPO_ROOT / "node_modules"
    secret_key: str = "dev-only-secret-change-me"
    base_url: str = "http://127.0.0.1:8000"
    platform_fee_bps: int = Field(default=60, ge=0, le=10_000)
    order_payment_timeout_minutes: int = 30
    session_ttl_hours: int = 12
    # Peers trusted to say who the client is in `X-Forwarded-For` (the reverse proxies in
    # front of the app): addresses or networks, comma-separated, "*" for any. Empty: trust
    # no peer, the client is whoever connects. The anti-cheating filter counts claims per
    # client address, so behind a proxy this must name it.
    forwarded_allow_ips: str = ""
    default_locale: str = "zh_CN"
    sql_echo: bool = False

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ccare.sqlite3'}"

    @property
    def effective_sandbox_database_url(self) -> str:
        return self.sandbox_database_url or f"sqlite:///{self.data_dir / 'sandbox.sqlite3'}"

    @property
    def effective_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return self.broker_url if self.broker_url.startswith("redis") else ""

    @property
    def effective_analytics_path(self) -> str:
        return self.analytics_path or str(self.data_dir / "analytics.duckdb")


@lru_cache
def get_settings() -> Settings:
    return Settings()
