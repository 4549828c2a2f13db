"""One plain asyncpg pool per node, for the few hot paths that skip the ORM (PostgreSQL only).

Real-time authorization and the EVSE status PATCH each run one prepared statement per request. Measured
(bench/bench_authorize.py, bench/bench_evse_patch.py): the request session path (ORM, BEGIN/COMMIT, pool
pre-ping) cost ~5 ms of server CPU per request, one statement on a plain asyncpg connection well under 1 ms.
The pool is made on first use, kept in `node.extras`, and closed by the app's lifespan. Statements run on it
must be single auto-committed statements that leave no session state (there is no reset on release).
On SQLite, the authorize read has its counterpart in `emsp.sqlite_readers`.
"""

from __future__ import annotations

import asyncio

import asyncpg

from emsp.node import Node

_POOL = "rawpool.pool"
_LOCK = "rawpool.lock"
POOL_MAX_SIZE = 10


async def raw_pool(node: Node) -> asyncpg.Pool:
    pool: asyncpg.Pool | None = node.extras.get(_POOL)
    if pool is not None:
        return pool
    lock: asyncio.Lock = node.extras.setdefault(_LOCK, asyncio.Lock())
    async with lock:
        pool = node.extras.get(_POOL)
        if pool is None:
            dsn = node.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_MAX_SIZE, reset=_no_reset)
            node.extras[_POOL] = pool
    return pool


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """No reset round trip on release: only single auto-committed statements run here."""


async def close_raw_pool(node: Node) -> None:
    pool: asyncpg.Pool | None = node.extras.pop(_POOL, None)
    if pool is not None:
        await pool.close()
