"""Alembic environment: async engine, the node's whole metadata, same migrations for SQLite and PostgreSQL.

SQLite: all migrations of a run are one transaction (`emsp.db` begins every transaction itself), with
foreign keys off while they run: a batch migration rebuilds a table (copy, drop, rename), and with them on,
dropping the old table would cascade-delete the rows that reference it. `PRAGMA foreign_key_check` must
find nothing before the run commits."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from emsp.db import make_engine
from emsp.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migrations left rows with dangling foreign keys: {broken[:10]}")


async def _online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=NullPool)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _foreign_keys_off(dbapi_conn: Any, _record: Any) -> None:  # after make_engine's pragmas
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
