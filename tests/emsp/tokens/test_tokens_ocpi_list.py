"""OCPI Tokens sender `GET /ocpi/2.2.1/tokens` (spec mod_tokens.asciidoc 12.2.2.1 and
transport_and_format.asciidoc "Pagination"): Link, X-Total-Count, X-Limit, the limit cap, bad parameters,
date_from inclusive / date_to exclusive, a stable order, authentication and routing headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emsp.db import SessionMaker
from emsp.settings import OwnParty, Settings
from emsp.tokens import service
from emsp.tokens.schemas import TokenEdit
from ocpi.models.tokens import Token as OcpiToken
from partners.tables import PartnerStatus, TokenKind
from tests.support.builders import make_partner, make_token, ocpi_auth

URL = "/ocpi/2.2.1/tokens"
T0 = datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Small pages, and a second party of ours (BE-EM2)."""
    return settings.model_copy(
        update={
            "page_limit_max": 4,
            "page_limit_default": 3,
            "parties": [*settings.parties, OwnParty(country_code="BE", party_id="EM2", name="Second")],
        }
    )


@pytest.fixture
async def cpo_token(sessionmaker: SessionMaker) -> str:
    async with sessionmaker() as session:
        _partner, token = await make_partner(session)
        await session.commit()
    return token


async def add_tokens(sessionmaker: SessionMaker, times: list[datetime], **fields: Any) -> list[int]:
    ids = []
    async with sessionmaker() as session:
        for when in times:
            token = await make_token(session, now=when, **fields)
            ids.append(token.id)
        await session.commit()
    return ids


async def get(client: httpx.AsyncClient, token: str, url: str = URL, **params: Any) -> httpx.Response:
    return await client.get(url, params=params or None, headers=ocpi_auth(token))


def uids(response: httpx.Response) -> list[str]:
    return [t["uid"] for t in response.json()["data"]]


async def test_empty_list(client: httpx.AsyncClient, cpo_token: str) -> None:
    response = await get(client, cpo_token)
    assert response.status_code == 200
    body = response.json()
    assert (body["status_code"], body["data"]) == (1000, [])
    assert response.headers["X-Total-Count"] == "0"
    assert response.headers["X-Limit"] == "4"
    assert "Link" not in response.headers


async def test_pages_follow_link_oldest_first(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    times = [T0 + timedelta(minutes=m) for m in (5, 1, 4, 2, 3, 0, 6)]
    await add_tokens(sessionmaker, times)
    response = await get(client, cpo_token)
    assert response.headers["X-Total-Count"] == "7"
    assert response.headers["X-Limit"] == "4"
    assert len(response.json()["data"]) == 3  # the default limit
    seen: list[str] = []
    stamps: list[str] = []
    url: str | None = URL + "?limit=2"
    while url:
        response = await client.get(url, headers=ocpi_auth(cpo_token))
        assert response.status_code == 200
        assert response.headers["X-Total-Count"] == "7"
        for item in response.json()["data"]:
            OcpiToken.model_validate(item)
            seen.append(item["uid"])
            stamps.append(item["last_updated"])
        link = response.headers.get("Link")
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        url = link[1 : link.index(">")]
        assert url.startswith("http://testserver/ocpi/2.2.1/tokens?")
        assert parse_qs(urlsplit(url).query)["limit"] == ["2"]
    assert len(seen) == len(set(seen)) == 7
    assert stamps == sorted(stamps)


async def test_limit_above_the_maximum_is_capped(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_tokens(sessionmaker, [T0 + timedelta(seconds=s) for s in range(6)])
    response = await get(client, cpo_token, limit=100)
    assert len(response.json()["data"]) == 4
    assert response.headers["X-Limit"] == "4"
    next_url = response.headers["Link"][1:].split(">")[0]
    query = parse_qs(urlsplit(next_url).query)
    assert (query["limit"], query["offset"]) == (["4"], ["4"])
    assert set(query) == {"limit", "offset", "cursor"}


async def test_same_last_updated_is_ordered_by_id(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_tokens(sessionmaker, [T0] * 5)
    first = uids(await get(client, cpo_token, limit=2))
    second = uids(await get(client, cpo_token, limit=2, offset=2))
    third = uids(await get(client, cpo_token, limit=2, offset=4))
    assert first + second + third == sorted(first + second + third)
    assert len(set(first + second + third)) == 5


async def test_date_from_inclusive_date_to_exclusive(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    t1, t2, t3 = T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    await add_tokens(sessionmaker, [t1, t2, t3])
    stamp = "2024-03-01T09:00:00Z"
    from_t2 = await get(client, cpo_token, date_from=stamp)
    assert [t["last_updated"] for t in from_t2.json()["data"]] == [stamp, "2024-03-01T10:00:00Z"]
    assert from_t2.headers["X-Total-Count"] == "2"
    to_t2 = await get(client, cpo_token, date_to=stamp)
    assert [t["last_updated"] for t in to_t2.json()["data"]] == ["2024-03-01T08:00:00Z"]
    between = await get(client, cpo_token, date_from="2024-03-01T08:00:00Z", date_to=stamp)
    assert between.headers["X-Total-Count"] == "1"


async def test_link_keeps_the_date_filters(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_tokens(sessionmaker, [T0 + timedelta(seconds=s) for s in range(5)])
    response = await get(
        client, cpo_token, limit=1, date_from="2024-03-01T08:00:01Z", date_to="2024-03-01T09:00:00Z"
    )
    assert response.headers["X-Total-Count"] == "4"
    query = parse_qs(urlsplit(response.headers["Link"][1:].split(">")[0]).query)
    assert query.pop("cursor")
    assert query == {
        "limit": ["1"],
        "offset": ["1"],
        "date_from": ["2024-03-01T08:00:01Z"],
        "date_to": ["2024-03-01T09:00:00Z"],
    }


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "-1"},
        {"offset": "abc"},
        {"offset": "1.5"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "ten"},
        {"date_from": "yesterday"},
        {"date_to": "2024-13-01T00:00:00Z"},
    ],
)
async def test_bad_parameters_are_2001(
    client: httpx.AsyncClient, cpo_token: str, params: dict[str, str]
) -> None:
    response = await get(client, cpo_token, **params)
    assert response.status_code == 400
    body = response.json()
    assert body["status_code"] == 2001
    assert "data" not in body


async def test_offset_past_the_end_is_an_empty_page(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_tokens(sessionmaker, [T0])
    response = await get(client, cpo_token, offset=5)
    assert response.json()["data"] == []
    assert response.headers["X-Total-Count"] == "1"
    assert "Link" not in response.headers


async def test_trailing_slash_and_routing_headers(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_tokens(sessionmaker, [T0])
    await add_tokens(sessionmaker, [T0], country_code="BE", party_id="EM2")
    routing = {
        "OCPI-from-country-code": "NL",
        "OCPI-from-party-id": "CPO",
        "OCPI-to-country-code": "BE",
        "OCPI-to-party-id": "EM2",
    }
    response = await client.get(URL + "/", headers=ocpi_auth(cpo_token, **routing))
    assert response.status_code == 200
    assert [(t["country_code"], t["party_id"]) for t in response.json()["data"]] == [("BE", "EM2")]
    assert response.headers["X-Total-Count"] == "1"
    assert response.headers["OCPI-from-country-code"] == "BE"
    assert response.headers["OCPI-from-party-id"] == "EM2"
    assert response.headers["OCPI-to-country-code"] == "NL"
    assert response.headers["OCPI-to-party-id"] == "CPO"
    plain = await get(client, cpo_token)
    assert plain.headers["X-Total-Count"] == "2"
    assert "OCPI-from-party-id" not in plain.headers


async def test_callers_need_a_connected_partners_own_token(
    client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    async with sessionmaker() as session:
        _p, token_a = await make_partner(session, kind=TokenKind.REGISTRATION, status=PartnerStatus.PLANNED)
        _p, suspended = await make_partner(session, status=PartnerStatus.SUSPENDED)
        await session.commit()
    for headers in (
        {},
        ocpi_auth(token_a),
        ocpi_auth("not-a-known-token"),
        ocpi_auth(suspended),
        {"Authorization": "Bearer whatever"},
    ):
        response = await client.get(URL, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["status_code"] == 2000


def next_url(response: httpx.Response) -> str | None:
    link = response.headers.get("Link")
    return None if link is None else link[1 : link.index(">")]


async def test_changes_during_a_crawl_skip_nothing(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    """Following `Link` (which carries a key cursor), a token changed mid-crawl moves to the end and is
    served there, whether it was already served or not; tokens created mid-crawl come last."""
    ids = await add_tokens(sessionmaker, [T0 + timedelta(seconds=s) for s in range(8)])
    first = await get(client, cpo_token, limit=3)
    served = uids(first)
    async with sessionmaker() as session:
        for token_id in (ids[0], ids[5]):  # one already served, one not yet
            token = await service.get_token(session, token_id)
            await service.edit_token(session, token, TokenEdit(group_id="MOVED"), actor="t")
        await make_token(session, uid="NEWCOMER")
        await session.commit()
    url = next_url(first)
    while url:
        response = await client.get(url, headers=ocpi_auth(cpo_token))
        served += uids(response)
        url = next_url(response)
    async with sessionmaker() as session:
        moved = [(await service.get_token(session, i)).uid for i in (ids[0], ids[5])]
    assert len(set(served)) == 9  # 8 + the newcomer: nothing skipped
    assert served[-3:] == [*moved, "NEWCOMER"]  # changed and new ones at the end, in change order
    assert served.count(moved[0]) == 2  # served before its change and again after it


async def test_a_foreign_or_stale_cursor_falls_back_to_the_offset(
    client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    await add_tokens(sessionmaker, [T0 + timedelta(seconds=s) for s in range(5)])
    everything = uids(await get(client, cpo_token, limit=4)) + uids(await get(client, cpo_token, offset=4))
    for cursor in ("garbage", "1-2", "99999999999999999999999-1-2", "1709280001000000-2-3"):
        page = await get(client, cpo_token, limit=2, offset=2, cursor=cursor)
        assert page.status_code == 200
        assert uids(page) == everything[2:4], cursor
