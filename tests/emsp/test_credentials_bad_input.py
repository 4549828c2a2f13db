"""Credentials as receiver, everything that must fail: bad bodies (HTTP 400 + 2001), partner APIs we cannot
use (3001), no common version (3002), missing endpoints (3003), wrong tokens (401), wrong state (405), URLs
our policy refuses. After each failure nothing is stored and token A still works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from tests.support.fake_cpo import FakeCpo, make_fake_cpo
from tests.support.partners import cpo_credentials, invite, node_client, registry_snapshot, token_header
from tests.support.servers import free_port

CREDENTIALS = "/ocpi/2.2.1/credentials"


@pytest.fixture
def cpo() -> Iterator[FakeCpo]:
    with make_fake_cpo().running() as fake:
        yield fake


@pytest.fixture
async def token_a(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> str:
    return await invite(client, admin_headers, "cpo")


async def assert_refused_and_nothing_stored(
    client: httpx.AsyncClient,
    sessionmaker: SessionMaker,
    token: str,
    body: Any,
    *,
    http_status: int,
    ocpi_status: int,
    method: str = "POST",
) -> dict[str, Any]:
    before = await registry_snapshot(sessionmaker)
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, (str, bytes)) else {"json": body}
    response = await client.request(method, CREDENTIALS, headers=token_header(token), **kwargs)
    assert response.status_code == http_status, response.text
    envelope = response.json()
    assert envelope["status_code"] == ocpi_status, envelope
    assert "data" not in envelope
    assert await registry_snapshot(sessionmaker) == before
    assert (await client.get("/ocpi/versions", headers=token_header(token))).status_code == 200
    return envelope


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "",
        "[]",
        '{"token": 123, "url": "http://x", "roles": []}',
    ],
    ids=["malformed", "empty", "array", "wrong-types"],
)
async def test_unreadable_body_is_400_2001(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, token_a: str, body: str
) -> None:
    await assert_refused_and_nothing_stored(
        client, sessionmaker, token_a, body, http_status=400, ocpi_status=2001
    )


@pytest.mark.parametrize(
    "change",
    [
        {"token": None},
        {"url": None},
        {"roles": None},
        {"roles": []},
        {"roles": "CPO"},
        {"token": "x" * 65},
        {"token": "tökén"},
        {"token": "with space"},
        {"token": ""},
        {"url": "u" * 300},
        {"roles": [{"role": "CPO", "country_code": "NL", "party_id": "TOOLONG", "business_details": {}}]},
        {
            "roles": [
                {"role": "KING", "country_code": "NL", "party_id": "CPO", "business_details": {"name": "x"}}
            ]
        },
    ],
    ids=[
        "no-token",
        "no-url",
        "no-roles",
        "roles-empty",
        "roles-wrong-type",
        "token-too-long",
        "token-non-ascii",
        "token-whitespace",
        "token-empty",
        "url-too-long",
        "role-bad-party",
        "role-bad-enum",
    ],
)
async def test_invalid_credentials_are_400_2001(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo, token_a: str, change: dict[str, Any]
) -> None:
    body = cpo_credentials("cpo-token-b", cpo.state.versions_url)
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    envelope = await assert_refused_and_nothing_stored(
        client, sessionmaker, token_a, body, http_status=400, ocpi_status=2001
    )
    assert envelope["status_message"]
    assert not cpo.state.requests  # nothing was fetched for an invalid body


async def test_duplicate_roles_are_400_2001(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo, token_a: str
) -> None:
    body = cpo_credentials("cpo-token-b", cpo.state.versions_url)
    body["roles"].append({**body["roles"][0], "party_id": "cpo"})  # CiString: same party
    await assert_refused_and_nothing_stored(
        client, sessionmaker, token_a, body, http_status=400, ocpi_status=2001
    )


async def test_unreachable_versions_url_is_3001(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, token_a: str
) -> None:
    body = cpo_credentials("cpo-token-b", f"http://127.0.0.1:{free_port()}/ocpi/versions")
    envelope = await assert_refused_and_nothing_stored(
        client, sessionmaker, token_a, body, http_status=200, ocpi_status=3001
    )
    assert "versions" in envelope["status_message"]


async def test_versions_answering_an_error_is_3001(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo, token_a: str
) -> None:
    cpo.state.versions_status = 503
    body = cpo_credentials(cpo.state.token_a, cpo.state.versions_url)
    await assert_refused_and_nothing_stored(
        client, sessionmaker, token_a, body, http_status=200, ocpi_status=3001
    )


async def test_their_api_refusing_the_token_they_sent_is_3001(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo, token_a: str
) -> None:
    body = cpo_credentials("a-token-the-cpo-does-not-know", cpo.state.versions_url)
    envelope = await assert_refused_and_nothing_stored(
        client, sessionmaker, token_a, body, http_status=200, ocpi_status=3001
    )
    assert "401" in envelope["status_message"]
    assert cpo.state.requests[0].token == "a-token-the-cpo-does-not-know"  # we used the token in the body


async def test_no_common_version_is_3002(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, token_a: str
) -> None:
    with make_fake_cpo(versions=["2.1.1", "2.2"]).running() as old:
        body = cpo_credentials(old.state.token_a, old.state.versions_url)
        envelope = await assert_refused_and_nothing_stored(
            client, sessionmaker, token_a, body, http_status=200, ocpi_status=3002
        )
    assert "2.1.1" in envelope["status_message"]


async def test_details_without_credentials_endpoint_is_3003(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, token_a: str
) -> None:
    with make_fake_cpo(with_credentials=False).running() as partial:
        body = cpo_credentials(partial.state.token_a, partial.state.versions_url)
        envelope = await assert_refused_and_nothing_stored(
            client, sessionmaker, token_a, body, http_status=200, ocpi_status=3003
        )
    assert "credentials" in envelope["status_message"]


async def test_redirect_is_refused(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo, token_a: str
) -> None:
    with make_fake_cpo().running() as elsewhere:
        cpo.state.versions_redirect = elsewhere.state.versions_url
        body = cpo_credentials(cpo.state.token_a, cpo.state.versions_url)
        envelope = await assert_refused_and_nothing_stored(
            client, sessionmaker, token_a, body, http_status=200, ocpi_status=3001
        )
        assert not elsewhere.state.requests  # the redirect was not followed
    assert "307" in envelope["status_message"]


async def test_unknown_token_is_401(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    before = await registry_snapshot(sessionmaker)
    body = cpo_credentials(cpo.state.token_a, cpo.state.versions_url)
    for method in ("GET", "POST", "PUT", "DELETE"):
        response = await client.request(method, CREDENTIALS, json=body, headers=token_header("who-is-this"))
        assert response.status_code == 401
        assert response.json()["status_code"] == 2000
    assert await registry_snapshot(sessionmaker) == before
    assert not cpo.state.requests


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_put_or_delete_before_registration_is_405(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo, token_a: str, method: str
) -> None:
    body = cpo_credentials(cpo.state.token_a, cpo.state.versions_url)
    await assert_refused_and_nothing_stored(
        client, sessionmaker, token_a, body, http_status=405, ocpi_status=2000, method=method
    )
    assert not cpo.state.requests


async def test_post_when_registered_is_405(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: FakeCpo, token_a: str
) -> None:
    registered = await cpo.register_with(client, "http://testserver/ocpi/versions", token_a)
    assert registered.json()["status_code"] == 1000
    token_c = cpo.state.token_for_emsp
    assert token_c is not None
    calls = len(cpo.state.requests)
    body = cpo_credentials("cpo-token-b2", cpo.state.versions_url)
    await assert_refused_and_nothing_stored(
        client, sessionmaker, token_c, body, http_status=405, ocpi_status=2000
    )
    assert len(cpo.state.requests) == calls
    # token A is spent: a second registration with it is refused as unknown
    response = await client.post(CREDENTIALS, json=body, headers=token_header(token_a))
    assert response.status_code == 401


async def test_private_versions_url_is_refused_unless_allowed(
    db_url: str, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    async with node_client(db_url, allow_private_urls=False) as client:
        token = await invite(client, admin_headers, "private")
        for url in (
            cpo.state.versions_url,  # 127.0.0.1
            "http://localhost:9/ocpi/versions",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/ocpi/versions",
            "http://[::1]:9/ocpi/versions",
        ):
            envelope = await assert_refused_and_nothing_stored(
                client,
                sessionmaker,
                token,
                cpo_credentials(cpo.state.token_a, url),
                http_status=200,
                ocpi_status=3001,
            )
            assert "refused" in envelope["status_message"], url
    assert not cpo.state.requests


async def test_plain_http_and_other_schemes_are_refused_unless_allowed(
    db_url: str, admin_headers: dict[str, str], sessionmaker: SessionMaker, cpo: FakeCpo
) -> None:
    async with node_client(db_url, allow_http_urls=False) as client:
        token = await invite(client, admin_headers, "plain")
        for url in (cpo.state.versions_url, "file:///etc/passwd", "ftp://127.0.0.1/versions", "no-scheme"):
            envelope = await assert_refused_and_nothing_stored(
                client,
                sessionmaker,
                token,
                cpo_credentials(cpo.state.token_a, url),
                http_status=200,
                ocpi_status=3001,
            )
            assert "scheme" in envelope["status_message"], url
    assert not cpo.state.requests
