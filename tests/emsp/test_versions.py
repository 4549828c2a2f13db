"""Our versions module: the list, the details (exactly what is implemented), IDs echoed, and how the
`Authorization` header is read (spec transport_and_format.asciidoc, version_information_endpoint.asciidoc)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.support.partners import PROBE_PATH, invite, probe_router, token_header


@pytest.fixture(autouse=True)
def _probe(app: FastAPI) -> None:
    app.include_router(probe_router)


@pytest.fixture
async def token_a(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    return await invite(client, admin_headers, "cpo-versions")


async def test_versions_list(client: httpx.AsyncClient, token_a: str) -> None:
    response = await client.get("/ocpi/versions", headers=token_header(token_a))
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert body["data"] == [{"version": "2.2.1", "url": "http://testserver/ocpi/2.2.1"}]
    assert body["timestamp"].endswith("Z")


async def test_version_details_list_only_implemented_endpoints(
    app: FastAPI, client: httpx.AsyncClient, token_a: str
) -> None:
    response = await client.get("/ocpi/2.2.1", headers=token_header(token_a))
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["version"] == "2.2.1"
    endpoints = data["endpoints"]
    credentials = [e for e in endpoints if e["identifier"] == "credentials"]
    assert credentials == [
        {"identifier": "credentials", "role": "SENDER", "url": "http://testserver/ocpi/2.2.1/credentials"}
    ]
    served = set(app.openapi()["paths"])
    for endpoint in endpoints:
        assert endpoint["url"].startswith("http://testserver/ocpi/2.2.1/")
        path = endpoint["url"].removeprefix("http://testserver")
        assert any(p == path or p.startswith(path + "/") for p in served), f"{path} listed but not served"
        assert endpoint["role"] in ("SENDER", "RECEIVER")
    assert len({(e["identifier"], e["role"]) for e in endpoints}) == len(endpoints)
    assert PROBE_PATH not in {e["url"] for e in endpoints}


async def test_request_and_correlation_ids_are_echoed(client: httpx.AsyncClient, token_a: str) -> None:
    headers = {**token_header(token_a), "X-Request-ID": "req-123", "X-Correlation-ID": "corr-456"}
    response = await client.get("/ocpi/versions", headers=headers)
    assert response.headers["X-Request-ID"] == "req-123"
    assert response.headers["X-Correlation-ID"] == "corr-456"


async def test_ids_are_made_when_missing(client: httpx.AsyncClient, token_a: str) -> None:
    response = await client.get("/ocpi/versions", headers=token_header(token_a))
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Correlation-ID"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Token"},
        {"Authorization": "Bearer c29tZS10b2tlbg=="},
        {"Authorization": "Token bm90LWEta25vd24tdG9rZW4="},
        {"Authorization": "Token not-a-known-token"},
    ],
    ids=["missing", "empty", "wrong-scheme", "unknown-base64", "unknown-raw"],
)
async def test_missing_or_unknown_token_is_401_envelope(
    client: httpx.AsyncClient, token_a: str, headers: dict[str, str]
) -> None:
    for path in ("/ocpi/versions", "/ocpi/2.2.1", "/ocpi/2.2.1/credentials", PROBE_PATH):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, path
        body = response.json()
        assert body["status_code"] == 2000
        assert "data" not in body
        assert body["timestamp"]


async def test_base64_token_with_trailing_newline_is_accepted(
    client: httpx.AsyncClient, token_a: str
) -> None:
    # Both spec examples encode "example-token\n": we accept the token with its newline stripped.
    response = await client.get("/ocpi/versions", headers=token_header(token_a, newline=True))
    assert response.status_code == 200


async def test_raw_token_is_accepted(client: httpx.AsyncClient, token_a: str) -> None:
    response = await client.get("/ocpi/versions", headers=token_header(token_a, raw=True))
    assert response.status_code == 200


async def test_token_a_is_refused_on_a_functional_module(client: httpx.AsyncClient, token_a: str) -> None:
    assert (await client.get("/ocpi/2.2.1/credentials", headers=token_header(token_a))).status_code == 200
    response = await client.get(PROBE_PATH, headers=token_header(token_a))
    assert response.status_code == 401
    assert response.json()["status_code"] == 2000


async def test_get_credentials_with_token_a(client: httpx.AsyncClient, token_a: str) -> None:
    response = await client.get("/ocpi/2.2.1/credentials", headers=token_header(token_a))
    data = response.json()["data"]
    assert data["token"] == token_a
    assert data["url"] == "http://testserver/ocpi/versions"
    assert data["roles"] == [
        {
            "role": "EMSP",
            "party_id": "EMS",
            "country_code": "NL",
            "business_details": {"name": "Test eMSP"},
        }
    ]
