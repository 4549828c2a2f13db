"""What the app's lifespan builds once and passes down: settings, engine, sessions, HTTP client, scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from emsp.db import SessionMaker
from emsp.settings import Settings
from partners.http_pool import PerOriginTransport


@dataclass
class Node:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: SessionMaker
    http: httpx.AsyncClient
    scheduler: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one shared, pooled client for every partner call. Redirects are not followed (SSRF guard)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_seconds, connect=5.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        follow_redirects=False,
        # a pool per partner origin (partners.http_pool); httpx then uses these limits, per origin
        transport=PerOriginTransport(limits=httpx.Limits(max_connections=100, max_keepalive_connections=50)),
    )
