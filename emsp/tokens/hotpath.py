"""The real-time authorization read, kept off the ORM and off the shared pool's per-checkout ping.

Measured (bench/bench_authorize.py and a CPU probe on the uvicorn process): through the request session
(`ModuleCaller` + ORM + BEGIN/COMMIT + pool pre-ping) an authorization cost ~5 ms of server CPU; one
statement on a SQLAlchemy connection ~1.5 ms; one prepared statement on a plain asyncpg pool well under
1 ms. On PostgreSQL this module therefore keeps a small asyncpg pool of its own in `node.extras`, made on
first use and closed by the app's lifespan (`close_pool`). A connection that broke (database restart) is
replaced by asyncpg on the next acquire. Other databases (SQLite) use `queries.authorize_lookup`.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import asyncpg

from emsp.node import Node
from emsp.tokens.queries import PG_AUTHORIZE_SQL, Party, authorize_lookup

_POOL = "tokens.authorize_pool"
_LOCK = "tokens.authorize_pool_lock"
POOL_MAX_SIZE = 10


async def _pool(node: Node) -> asyncpg.Pool:
    pool: asyncpg.Pool | None = node.extras.get(_POOL)
    if pool is not None:
        return pool
    lock: asyncio.Lock = node.extras.setdefault(_LOCK, asyncio.Lock())
    async with lock:
        pool = node.extras.get(_POOL)
        if pool is None:
            dsn = node.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_MAX_SIZE, reset=_keep_session)
            node.extras[_POOL] = pool
    return pool


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """No reset round trip on release: this pool only runs one read-only statement, never session state."""


async def authorize_rows(
    node: Node, digests: list[str], uid: str, token_type: str, party: Party | None
) -> list[Any]:
    """The rows of `queries.authorize_lookup` (credentials token, partner status, matching tokens)."""
    if node.engine.dialect.name != "postgresql":
        return await authorize_lookup(node.engine, digests, uid, token_type, party)
    pool = await _pool(node)
    async with pool.acquire() as conn:
        records = await conn.fetch(
            PG_AUTHORIZE_SQL, digests, uid.lower(), token_type, *(party or (None, None))
        )
    return [SimpleNamespace(**dict(record)) for record in records]


async def close_pool(node: Node) -> None:
    pool: asyncpg.Pool | None = node.extras.pop(_POOL, None)
    if pool is not None:
        await pool.close()
