"""What the app's lifespan builds once and passes down: settings, engine, sessions, HTTP client, scheduler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from emsp.db import SessionMaker
from emsp.settings import Settings
from partners.http_pool import PerOriginTransport

R = TypeVar("R")


@dataclass
class Node:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    http: httpx.AsyncClient
    scheduler: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def resource(
        self, key: str, make: Callable[[], Awaitable[R]], close: Callable[[R], Awaitable[None]]
    ) -> R:
        """`extras[key]`, made on first use (once, however many requests ask at the same time) and closed
        by `aclose`."""
        found: R | None = self.extras.get(key)
        if found is not None:
            return found
        async with self.extras.setdefault(f"{key}.lock", asyncio.Lock()):
            found = self.extras.get(key)
            if found is None:
                made = found = self.extras[key] = await make()

                async def closer() -> None:
                    self.extras.pop(key, None)
                    await close(made)

                self._closers.append(closer)
        return found

    async def aclose(self) -> None:
        """Close what the node holds: the HTTP client, the resources made on first use, the engine."""
        await self.http.aclose()
        closers, self._closers = self._closers[::-1], []
        for closer in closers:
            await closer()
        await self.engine.dispose()


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one shared, pooled client for every partner call. Redirects are not followed (SSRF guard)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        follow_redirects=False,
        # a pool per partner origin (partners.http_pool); httpx then uses these limits, per origin
        transport=PerOriginTransport(limits=httpx.Limits(max_connections=100, max_keepalive_connections=50)),
    )
