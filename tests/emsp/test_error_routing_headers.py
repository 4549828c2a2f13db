"""Errors rendered by the app's handlers (`emsp/errors.py`), not by a route, answer a functional module's
request with its routing headers swapped (transport_and_format.asciidoc, "Message Routing Headers"): unknown
token (401, raised in a dependency), request validation (2001), unknown path (404), method not allowed
(405), an unexpected error (500). Configuration modules (versions, credentials) and the admin API get none."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter

from emsp.app import create_app
from emsp.db import SessionMaker
from emsp.ocpi_api import VERSION_PATH
from emsp.settings import Settings
from tests.support.builders import ocpi_auth
from tests.support.ingest import pushing_partner

ROUTED = {
    "OCPI-from-country-code": "BE",
    "OCPI-from-party-id": "BEC",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "EMS",
}
SWAPPED = {
    "ocpi-to-country-code": "BE",
    "ocpi-to-party-id": "BEC",
    "ocpi-from-country-code": "NL",
    "ocpi-from-party-id": "EMS",
}

failing = APIRouter()


@failing.get("/failing/boom")
async def boom() -> None:
    raise RuntimeError("an unexpected error")


@pytest.fixture
async def node(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The node, plus one route under the version path that fails unexpectedly (500 is answered, not
    raised to the client, as uvicorn would)."""
    app = create_app(settings)
    app.include_router(failing, prefix=VERSION_PATH)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as client:
            yield client


def routing_of(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("ocpi-")}


@pytest.fixture
async def cpo(sessionmaker: SessionMaker) -> dict[str, str]:
    _, headers = await pushing_partner(sessionmaker, ("BE", "BEC"))
    return dict(headers, **ROUTED)


async def test_errors_outside_routes_carry_the_routing_headers_swapped(
    node: httpx.AsyncClient, cpo: dict[str, str]
) -> None:
    unknown_token = dict(ocpi_auth("no-such-token"), **ROUTED)
    cases = [
        ("GET", f"{VERSION_PATH}/tokens", unknown_token, 401, 2000),
        ("POST", f"{VERSION_PATH}/tokens/012345/authorize", unknown_token, 401, 2000),
        ("GET", f"{VERSION_PATH}/locations/BEL/BEC/LOC1", cpo, 400, 2001),  # country_code too long
        ("GET", f"{VERSION_PATH}/no-such-module", cpo, 404, 2000),
        ("DELETE", f"{VERSION_PATH}/tokens", cpo, 405, 2000),
        ("GET", f"{VERSION_PATH}/failing/boom", cpo, 500, 3000),
    ]
    for method, path, headers, http_status, status_code in cases:
        response = await node.request(method, path, headers=headers)
        assert (response.status_code, response.json()["status_code"]) == (http_status, status_code), path
        assert routing_of(response) == SWAPPED, (method, path)
    not_allowed = await node.delete(f"{VERSION_PATH}/tokens", headers=cpo)
    assert not_allowed.headers["allow"] == "GET"


async def test_only_the_headers_the_request_had_and_only_sane_values(
    node: httpx.AsyncClient, cpo: dict[str, str]
) -> None:
    only_from = {k: v for k, v in cpo.items() if not k.startswith("OCPI-to")}
    response = await node.get(f"{VERSION_PATH}/no-such-module", headers=only_from)
    assert routing_of(response) == {"ocpi-to-country-code": "BE", "ocpi-to-party-id": "BEC"}
    none = {k: v for k, v in cpo.items() if not k.startswith("OCPI-")}
    assert routing_of(await node.get(f"{VERSION_PATH}/no-such-module", headers=none)) == {}
    odd = dict(cpo, **{"OCPI-from-party-id": "TOOLONG"})
    assert "ocpi-to-party-id" not in routing_of(await node.get(f"{VERSION_PATH}/nope", headers=odd))


async def test_configuration_modules_and_admin_errors_carry_none(
    node: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    unknown_token = dict(ocpi_auth("no-such-token"), **ROUTED)
    configuration = ("credentials", "hubclientinfo")
    for path in ("/ocpi/versions", VERSION_PATH, *(f"{VERSION_PATH}/{m}" for m in configuration)):
        response = await node.get(path, headers=unknown_token)
        assert response.status_code in (401, 404, 405), path
        assert routing_of(response) == {}, path
    for headers in (ROUTED, dict(admin_headers, **ROUTED)):
        response = await node.get("/admin/v1/tokens/no-such-token", headers=headers)
        assert response.status_code in (401, 404)
        assert "error" in response.json() and routing_of(response) == {}
