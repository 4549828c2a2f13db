"""The real-time authorization read, kept off the ORM, off the engine's pooled connections and off the
request session.

Measured (bench/bench_authorize.py and a CPU probe on the uvicorn process): through the request session
(`ModuleCaller` + ORM + BEGIN/COMMIT + pool pre-ping) an authorization cost ~5 ms of server CPU; one
statement on a SQLAlchemy connection ~1.5 ms on PostgreSQL, ~2.2 ms on SQLite; one prepared statement on a
plain asyncpg pool well under 1 ms, one fixed SQL string on a plain SQLite connection 0.4 ms. So the one
query of `queries.authorize_lookup` (the caller's credentials token and partner, and the matching tokens)
runs on PostgreSQL on the node's plain asyncpg pool (`emsp.rawpool`, `PG_AUTHORIZE_SQL`), on SQLite on the
node's read-only connections (`emsp.sqlite_readers`, `SQLITE_AUTHORIZE`); an in-memory SQLite database
uses `authorize_lookup` itself. tests/emsp/tokens/test_tokens_authorize_paths.py checks that every path
gives the same rows and the same answers.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from emsp.node import Node
from emsp.rawpool import raw_pool
from emsp.sqlite_readers import sqlite_readers
from emsp.tokens.queries import (
    AUTHORIZE_MAX_DIGESTS,
    PG_AUTHORIZE_SQL,
    SQLITE_AUTHORIZE,
    Party,
    authorize_lookup,
)


async def authorize_rows(
    node: Node, digests: list[str], uid: str, token_type: str, party: Party | None
) -> list[Any]:
    """The rows of `queries.authorize_lookup` (credentials token, partner status, matching tokens)."""
    dialect = node.engine.dialect.name
    if dialect == "postgresql":
        pool = await raw_pool(node)
        async with pool.acquire() as conn:
            records = await conn.fetch(
                PG_AUTHORIZE_SQL, digests, uid.lower(), token_type, *(party or (None, None))
            )
        return [SimpleNamespace(**dict(record)) for record in records]
    if dialect == "sqlite" and 0 < len(digests) <= AUTHORIZE_MAX_DIGESTS:
        readers = await sqlite_readers(node)
        if readers is not None:
            query = SQLITE_AUTHORIZE[party is not None]
            return query.rows(
                await readers.fetchall(query.sql, query.parameters(digests, uid, token_type, party))
            )
    return await authorize_lookup(node.engine, digests, uid, token_type, party)
