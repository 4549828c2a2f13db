"""Helpers shared by CLI commands: settings, a database session, JSON or table output."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import make_engine, make_sessionmaker, session_scope
from emsp.node import Node, make_http_client
from emsp.settings import Settings

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def run_with_node(fn: Callable[[Node], Awaitable[T]]) -> T:
    """Build a node (engine, sessions, HTTP client) like the server does, run `fn`, tear it down."""

    async def _go() -> T:
        settings = Settings()
        engine = make_engine(settings.database_url)
        http = make_http_client(settings)
        node = Node(settings=settings, engine=engine, sessionmaker=make_sessionmaker(engine), http=http)
        try:
            return await fn(node)
        finally:
            await node.aclose()

    return asyncio.run(_go())


def run_in_session(fn: Callable[[Node, AsyncSession], Awaitable[T]]) -> T:
    """Run `fn` in one unit of work (committed at the end, rolled back on error)."""

    async def _with_session(node: Node) -> T:
        async with session_scope(node.sessionmaker) as session:
            return await fn(node, session)

    return run_with_node(_with_session)


def print_json(value: Any) -> None:
    typer_echo(json.dumps(value, indent=2, default=str))


def typer_echo(text: str) -> None:
    print(text)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)


def fail(message: str, code: int = 1) -> None:
    import typer

    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)
