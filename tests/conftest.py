"""Shared fixtures: the real database (SQLite file, or PostgreSQL from DATABASE_URL), migrated once per
run with Alembic and emptied after every test; the app with its lifespan; an HTTP client on it; a live
node served on a loopback port."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from emsp.app import create_app
from emsp.db import SessionMaker, make_engine, make_sessionmaker
from emsp.migrate import upgrade
from emsp.settings import Settings, normalise_database_url
from emsp.tables import metadata
from tests.support.servers import RunningServer, free_port, serve

ADMIN_SECRET = "test-admin-secret"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_SECRET}"}


def _reset_postgres(url: str) -> None:
    async def _go() -> None:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(_go())


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    raw = os.environ.get("DATABASE_URL")
    if raw:
        url = normalise_database_url(raw)
        if url.startswith("postgresql"):
            _reset_postgres(url)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


@pytest.fixture(scope="session")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> SessionMaker:
    return make_sessionmaker(engine)


@pytest.fixture
async def _emptied_after(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with engine.begin() as conn:
        existing = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        for table in reversed(metadata.sorted_tables):
            if table.name in existing:  # a table whose migration is not written yet is skipped
                await conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> None:
    """Each test starts and leaves the database empty (only for tests that touch it).

    Sync on purpose: it asks for the async cleaner before the test runs (pytest refuses a fixture asked
    for during teardown, and an async fixture cannot set up another one from inside the event loop)."""
    if "db_url" in request.fixturenames:
        request.getfixturevalue("_emptied_after")


def make_settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "public_url": "http://testserver",
        "admin_api_keys": [f"tester:{ADMIN_SECRET}"],
        "allow_private_urls": True,
        "run_worker": False,
        "log_level": "WARNING",
        "parties": [{"country_code": "NL", "party_id": "EMS", "name": "Test eMSP"}],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[object]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return dict(ADMIN_HEADERS)


@pytest.fixture
def live_node(db_url: str) -> Iterator[RunningServer]:
    """The real node served by uvicorn on a loopback port (its own thread and event loop)."""
    port = free_port()
    node_settings = make_settings(db_url, public_url=f"http://127.0.0.1:{port}", port=port)
    with serve(create_app(node_settings), port=port) as running:
        yield running


FIXTURES = Path(__file__).parent / "fixtures"
