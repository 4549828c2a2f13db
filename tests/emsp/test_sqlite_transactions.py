"""SQLite transactions (`emsp/db.py`): read-then-write transactions from many sessions at once neither fail
nor lose updates; savepoints nest inside the transaction; a read-only session holds no writer up; the
migrations run down and up again. Each test uses a SQLite file of its own, whatever DATABASE_URL is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.app import create_app
from emsp.db import SessionMaker, make_engine, make_sessionmaker, read_scope, session_scope
from emsp.migrate import alembic_config, upgrade
from tests.conftest import ADMIN_HEADERS, make_settings


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, SessionMaker]]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'tx.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter (n) VALUES (0)"))
        await conn.execute(text("CREATE TABLE items (x INTEGER NOT NULL)"))
    yield engine, make_sessionmaker(engine)
    await engine.dispose()


async def run(session: AsyncSession, sql: str, **params: object) -> Any:
    return await (await session.connection()).execute(text(sql), params)


async def _items(sessionmaker: SessionMaker) -> list[int]:
    async with sessionmaker() as session:
        return [r[0] for r in await run(session, "SELECT x FROM items ORDER BY x")]


async def test_read_then_write_from_many_sessions_neither_fails_nor_loses_updates(
    sqlite: tuple[AsyncEngine, SessionMaker],
) -> None:
    _, sessionmaker = sqlite

    async def increment() -> None:
        async with session_scope(sessionmaker) as session:
            n = (await run(session, "SELECT n FROM counter")).scalar_one()
            await asyncio.sleep(0.005)  # others run meanwhile
            await run(session, "UPDATE counter SET n = :n", n=n + 1)

    await asyncio.gather(*(increment() for _ in range(40)))
    async with sessionmaker() as session:
        assert (await run(session, "SELECT n FROM counter")).scalar_one() == 40


async def test_savepoints_nest_inside_the_transaction(sqlite: tuple[AsyncEngine, SessionMaker]) -> None:
    _, sessionmaker = sqlite
    async with sessionmaker() as session:
        await run(session, "INSERT INTO items (x) VALUES (1)")
        nested = await session.begin_nested()
        await run(session, "INSERT INTO items (x) VALUES (2)")
        await nested.rollback()
        async with session.begin_nested():
            await run(session, "INSERT INTO items (x) VALUES (3)")
        await session.commit()
    assert await _items(sessionmaker) == [1, 3]

    async with sessionmaker() as session:
        async with session.begin_nested():  # released, then the whole transaction rolls back
            await run(session, "INSERT INTO items (x) VALUES (4)")
        await session.rollback()
    assert await _items(sessionmaker) == [1, 3]


async def test_a_read_only_session_holds_no_writer_up(sqlite: tuple[AsyncEngine, SessionMaker]) -> None:
    _, sessionmaker = sqlite
    async with read_scope(sessionmaker) as reader:
        assert (await run(reader, "SELECT n FROM counter")).scalar_one() == 0

        async def write() -> None:
            async with session_scope(sessionmaker) as session:
                await run(session, "INSERT INTO items (x) VALUES (7)")

        await asyncio.wait_for(write(), timeout=5)  # would wait for the busy timeout if the reader locked
        assert (await run(reader, "SELECT n FROM counter")).scalar_one() == 0
    assert await _items(sessionmaker) == [7]


async def test_a_write_in_a_read_only_session_fails_at_once_and_the_next_writer_can_write(
    sqlite: tuple[AsyncEngine, SessionMaker],
) -> None:
    _, sessionmaker = sqlite
    with pytest.raises(OperationalError, match="readonly"):
        async with read_scope(sessionmaker) as reader:
            await run(reader, "INSERT INTO items (x) VALUES (1)")
    async with session_scope(sessionmaker) as session:  # the same pooled connection, writable again
        await run(session, "INSERT INTO items (x) VALUES (2)")
    assert await _items(sessionmaker) == [2]


async def test_a_get_request_is_answered_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    """GET and HEAD requests run read-only (`emsp.deps`): they neither wait for a writer nor see its
    uncommitted rows. Taking the write lock, they would wait for the busy timeout (30 s)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = make_settings(url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            async with session_scope(app.state.node.sessionmaker) as writer:
                await run(writer, TOKEN_ROW)  # the write lock is held until this block ends
                answer = await asyncio.wait_for(client.get("/admin/v1/tokens", headers=ADMIN_HEADERS), 10)
                assert answer.status_code == 200
                assert answer.json()["total"] == 0  # the writer's row is not committed yet
            answer = await client.get("/admin/v1/tokens", headers=ADMIN_HEADERS)
            assert answer.json()["total"] == 1


TOKEN_ROW = (
    "INSERT INTO tokens (id, country_code, party_id, uid, uid_norm, type, contract_id, issuer, whitelist,"
    " status, version, last_updated, created_at) VALUES (1, 'NL', 'EMS', 'U1', 'u1', 'RFID',"
    " 'NL-EMS-C00000001-X', 'x', 'ALLOWED', 'ACTIVE', 1, '2030-01-01', '2030-01-01')"
)
HISTORY_ROW = (
    "INSERT INTO token_history (token_id, version, at, actor, action, changes)"
    " VALUES (1, 1, '2030-01-01', 't', 'create', '{}')"
)


async def _names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return {r[0] for r in await conn.execute(text("SELECT name FROM sqlite_master"))}


async def test_migrations_run_down_and_up_again_keeping_referencing_rows(tmp_path: Path) -> None:
    """Downgrading 0007 rebuilds `tokens` (batch mode); with foreign keys on, dropping the old table would
    cascade-delete `token_history`."""
    from alembic import command

    url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(TOKEN_ROW))
            await conn.execute(text(HISTORY_ROW))
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0002")
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM token_history"))).scalar_one() == 1
        await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
        assert {n for n in await _names(engine) if not n.startswith(("alembic_", "sqlite_"))} == set()
        await asyncio.to_thread(upgrade, url)
        assert {"tokens", "token_history", "partners", "evses"} <= await _names(engine)
    finally:
        await engine.dispose()
