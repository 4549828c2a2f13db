"""One plain asyncpg pool per node, for the few hot paths that skip the ORM (PostgreSQL only).

Real-time authorization and the EVSE status PATCH each run one prepared statement per request. Measured
(bench/bench_authorize.py, bench/bench_evse_patch.py): the request session path (ORM, BEGIN/COMMIT, pool
pre-ping) cost ~5 ms of server CPU per request, one statement on a plain asyncpg connection well under 1 ms.
The pool is made on first use and closed with the node (`Node.resource`, `Node.aclose`). Statements run on
it must be single auto-committed statements that leave no session state (there is no reset on release).
On SQLite, the authorize read has its counterpart in `emsp.sqlite_readers`.
"""

from __future__ import annotations

import asyncpg

from emsp.node import Node

_POOL = "rawpool.pool"
POOL_MAX_SIZE = 10


async def raw_pool(node: Node) -> asyncpg.Pool:
    async def make() -> asyncpg.Pool:
        dsn = node.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        return await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_MAX_SIZE, reset=_no_reset)

    async def close(pool: asyncpg.Pool) -> None:
        await pool.close()

    return await node.resource(_POOL, make, close)


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """No reset round trip on release: only single auto-committed statements run here."""
