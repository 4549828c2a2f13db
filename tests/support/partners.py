"""Helpers for tests of the partner registry and the credentials handshake."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from emsp.app import create_app
from emsp.db import SessionMaker
from emsp.deps import ModuleCaller
from emsp.ocpi_api.responses import ocpi_response
from tests.conftest import make_settings

PROBE_PATH = "/ocpi/2.2.1/_test_probe"
REGISTRY_TABLES = ("partners", "partner_roles", "partner_endpoints", "partner_tokens")

probe_router = APIRouter()


@probe_router.get(PROBE_PATH)
async def probe(caller: ModuleCaller) -> JSONResponse:
    """A stand-in functional module (test only): it accepts what a functional module accepts."""
    return ocpi_response({"partner": caller.partner.name})


def token_header(token: str, *, raw: bool = False, newline: bool = False) -> dict[str, str]:
    """`Authorization: Token ...`: base64 (of token + newline with `newline`, as in the spec) or raw."""
    if raw:
        return {"Authorization": f"Token {token}"}
    value = base64.b64encode((token + ("\n" if newline else "")).encode()).decode()
    return {"Authorization": f"Token {value}"}


async def invite(client: httpx.AsyncClient, admin_headers: dict[str, str], name: str, **extra: Any) -> str:
    """Invite a partner through the admin API; its token A."""
    response = await client.post(
        "/admin/v1/partners/invitations", json={"name": name, **extra}, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    token_a: str = response.json()["token_a"]
    return token_a


async def registry_snapshot(sessionmaker: SessionMaker) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the registry's tables, to show that a failed request changed nothing."""
    async with sessionmaker() as session:
        conn = await session.connection()
        return {
            table: [tuple(row) for row in await conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
            for table in REGISTRY_TABLES
        }


async def partner_row(sessionmaker: SessionMaker, name: str) -> dict[str, Any]:
    async with sessionmaker() as session:
        conn = await session.connection()
        rows = await conn.execute(text("SELECT * FROM partners WHERE name = :n"), {"n": name})
        found = rows.mappings().first()
        assert found is not None, f"no partner {name}"
        return dict(found)


def cpo_credentials(token: str, url: str, **role: Any) -> dict[str, Any]:
    """A CPO's Credentials body (one role, NL CPO unless overridden)."""
    base_role = {"role": "CPO", "country_code": "NL", "party_id": "CPO", "business_details": {"name": "CPO"}}
    return {"token": token, "url": url, "roles": [{**base_role, **role}]}


@asynccontextmanager
async def node_client(db_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Our node with other settings (`make_settings` overrides), served in process with the probe."""
    app = create_app(make_settings(db_url, **overrides))
    app.include_router(probe_router)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
