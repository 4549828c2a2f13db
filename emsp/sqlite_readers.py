"""A few long-lived read-only SQLite connections per node, for the hot reads that skip the ORM (SQLite only).

The SQLite counterpart of `emsp.rawpool`. Measured with bench/bench_authorize.py (500,000 tokens, 16 clients):
a real-time authorization through the engine cost 2.2 ms of node CPU (statement built and its cache key made
per request, a pooled connection checked out, set to AUTOCOMMIT, reset and rolled back on return, ~8 hand-offs
to the driver's thread; 459 req/s, p99 72 ms); one fixed SQL string on one of these connections, one hand-off
per query, 0.4 ms (2,199 req/s, p99 16 ms).

Each connection is opened like the engine's (WAL, the busy timeout), in autocommit, so every SELECT reads the
latest committed state and no transaction stays open, and with `PRAGMA query_only=ON`: nothing run here can
write. They are made on first use and closed with the node (`Node.resource`, `Node.aclose`; each has its
own thread, which would keep the process alive). None for an in-memory database, where another connection
would see another, empty database: callers then take the regular path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from emsp.db import BUSY_TIMEOUT_SECONDS, SQLITE_PRAGMAS
from emsp.node import Node

_READERS = "sqlite_readers.readers"
READERS = 4
"""Connections (each with its own driver thread); 4 served the authorize benchmark's 16 clients on 2 cores."""


class SqliteReaders:
    """Idle connections in a queue: a query takes one, runs, and puts it back."""

    def __init__(self, connections: Sequence[aiosqlite.Connection]) -> None:
        self._connections = list(connections)
        self._idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in self._connections:
            self._idle.put_nowait(conn)

    async def fetchall(self, sql: str, parameters: Sequence[Any]) -> Iterable[Sequence[Any]]:
        """One statement, all its rows, in one hand-off to a connection's thread."""
        conn = await self._idle.get()
        try:
            return await conn.execute_fetchall(sql, parameters)
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self._connections:
            await conn.close()


async def sqlite_readers(node: Node) -> SqliteReaders | None:
    """The node's readers; None when its database is in memory (or not SQLite)."""
    readers: SqliteReaders | None = node.extras.get(_READERS)
    if readers is not None:
        return readers
    engine = node.engine
    if engine.dialect.name != "sqlite":
        return None
    args, options = engine.dialect.create_connect_args(engine.url)
    database = str(args[0]) if args else ":memory:"
    if database == ":memory:" or "mode=memory" in database:
        return None
    options = {"uri": options["uri"]} if "uri" in options else {}

    async def make() -> SqliteReaders:
        connections: list[aiosqlite.Connection] = []
        try:
            for _ in range(READERS):
                connections.append(await _connect(database, options))
        except BaseException:
            await SqliteReaders(connections).close()
            raise
        return SqliteReaders(connections)

    async def close(readers: SqliteReaders) -> None:
        await readers.close()

    return await node.resource(_READERS, make, close)


async def _connect(database: str, options: dict[str, Any]) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(
        database, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False, **options
    )
    try:
        for pragma in (*SQLITE_PRAGMAS, "query_only=ON"):
            await conn.execute_fetchall(f"PRAGMA {pragma}")
    except BaseException:
        await conn.close()
        raise
    return conn
