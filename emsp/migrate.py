"""Apply the Alembic migrations programmatically (used by `emsp migrate`, `make migrate` and the tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from emsp.settings import normalise_database_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_database_url(database_url))
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Bring the database to `revision`. Runs in a worker thread when called inside an event loop."""
    config = alembic_config(database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    raise RuntimeError("call upgrade() outside the event loop, or via asyncio.to_thread")
