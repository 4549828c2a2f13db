"""Engine and sessions. One session per request or job; it commits at the end and rolls back on error.
Services and repositories only `flush()`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.settings import normalise_database_url

SessionMaker = async_sessionmaker[AsyncSession]

BUSY_TIMEOUT_SECONDS = 30
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    f"busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}",
    "foreign_keys=ON",
    "synchronous=NORMAL",
)
"""Every connection to the SQLite file (the engine's and `emsp.sqlite_readers`')."""
_READ_ONLY_OPTION = "emsp_read_only"
READ_ONLY: dict[str, Any] = {_READ_ONLY_OPTION: True}
"""Execution options of a connection that only reads: on SQLite its transaction begins DEFERRED (no write
lock); elsewhere they change nothing."""


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, **kwargs)
        _sqlite_transactions(engine)
        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_transactions(engine: AsyncEngine) -> None:
    """SQLite has one writer at a time. WAL lets readers run beside it; the busy timeout lets a writer wait
    for the lock. But a transaction that began DEFERRED, read, and then writes cannot wait: SQLite answers
    "database is locked" at once when such a reader asks for the write lock (another writer holds it or
    committed since its snapshot). So every transaction begins `BEGIN IMMEDIATE`, taking the write lock
    (waiting up to the busy timeout) before its first statement, and read-then-write is safe; sessions that
    only read ask for a plain deferred `BEGIN` (`read_scope`, `READ_ONLY`) and hold no lock.

    The driver's own transaction handling (it emits BEGIN before INSERT/UPDATE/DELETE only, never before
    SELECT or SAVEPOINT) is switched off; the `begin` event emits ours (SQLAlchemy's SQLite dialect docs,
    "Serializable isolation / Savepoints / Transactional DDL"). Savepoints (`begin_nested`) then nest inside
    the transaction, and Alembic's DDL runs in one. An `AUTOCOMMIT` connection gets no BEGIN (afterwards the
    pool gives the driver its own mode back, which adds no BEGIN inside ours: the outcome is the same)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver emits no BEGIN; `_on_begin` does
        cursor = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        read_only = bool(options.get(_READ_ONLY_OPTION))
        autocommit = options.get("isolation_level") == "AUTOCOMMIT"
        _query_only(conn, read_only and not autocommit)
        if not autocommit:
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _query_only(conn: Connection, wanted: bool) -> None:
    """SQLite's `query_only` on the connection as a read-only transaction wants it: a write in such a
    transaction fails at once ("attempt to write a readonly database") instead of racing for the lock it
    did not take. Set only when it changes (the pool's record of the connection remembers)."""
    info = conn.connection.info
    if info.get(_QUERY_ONLY, False) != wanted:
        conn.exec_driver_sql(f"PRAGMA query_only={'ON' if wanted else 'OFF'}")
        info[_QUERY_ONLY] = wanted


_QUERY_ONLY = "emsp_query_only"


def make_sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """A unit of work for jobs and the CLI: commit at the end, roll back on error."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@asynccontextmanager
async def read_scope(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """A session that only reads, e.g. a streamed export. On SQLite it takes no write lock, so however long
    it stays open it holds no writer up; it must not write (its transaction could not become a writer while
    another one writes). Rolled back at the end."""
    async with sessionmaker() as session:
        await session.connection(execution_options=READ_ONLY)
        yield session


async def autoflush(session: AsyncSession) -> None:
    """Flush the session's pending ORM changes, as an ORM query does before it runs (when autoflush is
    on); for Core statements run on the session's connection, which do not."""
    sync = session.sync_session
    if sync.autoflush and (sync.new or sync.dirty or sync.deleted):
        await session.flush()
