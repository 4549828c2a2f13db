"""The node's settings: one pydantic-settings class, prefix `EMSP_`, built once and passed down."""

from __future__ import annotations

import hashlib
from functools import cached_property

from pydantic import BaseModel, Field, SecretStr, field_validator
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
    public_url: str = "http://127.0.0.1:8000"
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

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

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
