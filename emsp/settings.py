"""The node's settings: one pydantic-settings class, prefix `EMSP_`, built once and passed down."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from functools import cached_property

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class OwnParty(BaseModel):
    """One party we are: role EMSP with its `country_code`/`party_id` and business details."""

    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=3, max_length=3)
    name: str = Field(max_length=100)
    website: str | None = None


class AdminKey(BaseModel):
    name: str
    secret: SecretStr

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.secret.get_secret_value().encode()).hexdigest()


def normalise_database_url(url: str) -> str:
    """Accept plain `postgresql://` / `sqlite://` URLs and pick the async driver."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMSP_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/emsp.db"
    public_url: str = ""  # empty: http://{host}:{port}
    host: str = "127.0.0.1"
    port: int = 8000
    parties: list[OwnParty] = [OwnParty(country_code="NL", party_id="EMS", name="Example eMSP")]
    admin_api_keys: list[SecretStr] = Field(default_factory=list)
    log_level: str = "INFO"
    allow_private_urls: bool = False
    allow_http_urls: bool = True
    run_worker: bool = True
    page_limit_max: int = 1000
    page_limit_default: int = 100
    http_timeout_seconds: float = 10.0
    token_rotation_grace_seconds: int = 0
    # token distribution (emsp.distribution): worker batch, concurrency, retries, leases, reconciliation
    distribution_batch_size: int = Field(default=200, ge=1, le=5000)
    distribution_concurrency: int = Field(default=64, ge=1, le=1000)
    distribution_partner_concurrency: int = Field(default=8, ge=1, le=200)
    distribution_max_attempts: int = Field(default=12, ge=1)
    distribution_backoff_base_seconds: float = Field(default=30.0, gt=0)
    distribution_backoff_cap_seconds: float = Field(default=1800.0, gt=0)
    distribution_retry_after_cap_seconds: float = Field(default=3600.0, gt=0)
    distribution_short_retries: int = Field(default=2, ge=0, le=10)
    distribution_short_retry_wait_seconds: float = Field(default=0.2, ge=0)
    distribution_short_retry_after_cap_seconds: float = Field(default=5.0, ge=0)
    distribution_lease_seconds: float = Field(default=120.0, gt=0)
    distribution_poll_seconds: float = Field(default=2.0, gt=0)
    distribution_sync_seconds: float = Field(default=30.0, gt=0)
    distribution_reconcile_interval_seconds: float = Field(default=21600.0, gt=0)
    distribution_reconcile_sample: int = Field(default=20, ge=0)
    # CDRs (emsp.cdrs, emsp.billing): verification tolerance, MSP billing currency, retry of failed pricing
    cdr_price_tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    standard_currency: str = Field(default="EUR", min_length=3, max_length=3)
    cdr_pricing_retry_seconds: float = Field(default=600.0, gt=0)
    # pull sync (emsp.ingest.sync): how often, how much per page, retries per page, sessions look-back
    pull_interval_hours: float = Field(default=6.0, gt=0)
    pull_jitter_minutes: float = Field(default=30.0, ge=0)
    pull_full_interval_hours: float = Field(default=24.0, gt=0)
    pull_modules: list[str] = Field(default_factory=lambda: ["locations", "tariffs", "sessions"])
    pull_page_limit: int = Field(default=500, ge=1, le=10000)
    pull_max_attempts: int = Field(default=4, ge=1, le=20)
    pull_backoff_initial_seconds: float = Field(default=2.0, gt=0)
    pull_backoff_max_seconds: float = Field(default=120.0, gt=0)
    pull_sessions_lookback_days: int = Field(default=30, ge=1)
    pull_stale_crawl_hours: float = Field(default=48.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        return self

    @cached_property
    def admin_keys(self) -> list[AdminKey]:
        """`name:secret` entries, or bare secrets (named by their position)."""
        keys = []
        for i, raw in enumerate(self.admin_api_keys):
            text = raw.get_secret_value()
            name, sep, secret = text.partition(":")
            if not sep:
                name, secret = f"key{i + 1}", text
            keys.append(AdminKey(name=name, secret=SecretStr(secret)))
        return keys

    @property
    def versions_url(self) -> str:
        return f"{self.public_url}/ocpi/versions"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
