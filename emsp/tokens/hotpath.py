"""The real-time authorization read, kept off the ORM and off the shared pool's per-checkout ping.

Measured (bench/bench_authorize.py and a CPU probe on the uvicorn process): through the request session
(`ModuleCaller` + ORM + BEGIN/COMMIT + pool pre-ping) an authorization cost ~5 ms of server CPU; one
statement on a SQLAlchemy connection ~1.5 ms; one prepared statement on a plain asyncpg pool well under
1 ms. On PostgreSQL it therefore runs on the node's plain asyncpg pool
(`emsp.rawpool`). Other databases (SQLite) use `queries.authorize_lookup`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from emsp.node import Node
from emsp.rawpool import raw_pool
from emsp.tokens.queries import PG_AUTHORIZE_SQL, Party, authorize_lookup


async def authorize_rows(
    node: Node, digests: list[str], uid: str, token_type: str, party: Party | None
) -> list[Any]:
    """The rows of `queries.authorize_lookup` (credentials token, partner status, matching tokens)."""
    if node.engine.dialect.name != "postgresql":
        return await authorize_lookup(node.engine, digests, uid, token_type, party)
    pool = await raw_pool(node)
    async with pool.acquire() as conn:
        records = await conn.fetch(
            PG_AUTHORIZE_SQL, digests, uid.lower(), token_type, *(party or (None, None))
        )
    return [SimpleNamespace(**dict(record)) for record in records]
