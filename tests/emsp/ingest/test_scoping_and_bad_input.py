"""Party scoping (transport_and_format.asciidoc 4.1.5), routing headers (4.1.8) and bad input on every
Receiver endpoint: the right envelope, and nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from emsp.db import SessionMaker
from emsp.ingest.tables import (
    HubClientInfo,
    IngestedEvse,
    IngestedLocation,
    IngestedSession,
    IngestedTariff,
    TariffVersion,
)
from tests.support.builders import ocpi_auth
from tests.support.ingest import V, count, example, pushing_partner

LOC = f"{V}/locations/BE/BEC/LOC1"
TABLES = (IngestedLocation, IngestedEvse, IngestedTariff, TariffVersion, IngestedSession, HubClientInfo)


def tariff() -> dict[str, Any]:
    return dict(example("tariff_1_simple_2hour.json"), country_code="BE", party_id="BEC", id="T1")


def session_body() -> dict[str, Any]:
    return dict(example("session_example_2_short_finished.json"), id="S1")


# (method, url, valid body) for every write endpoint, on party BE/BEC
WRITES: list[tuple[str, str, Any]] = [
    ("PUT", LOC, example("location_example.json")),
    ("PATCH", LOC, {"name": "x", "last_updated": "2030-01-01T00:00:00Z"}),
    ("PUT", f"{LOC}/3256", example("location_example.json")["evses"][0]),
    ("PATCH", f"{LOC}/3256", {"status": "CHARGING", "last_updated": "2030-01-01T00:00:00Z"}),
    ("PUT", f"{LOC}/3256/1", example("location_example.json")["evses"][0]["connectors"][0]),
    ("PATCH", f"{LOC}/3256/1", {"max_amperage": 32, "last_updated": "2030-01-01T00:00:00Z"}),
    ("PUT", f"{V}/tariffs/BE/BEC/T1", tariff()),
    ("PUT", f"{V}/sessions/BE/BEC/S1", session_body()),
    ("PATCH", f"{V}/sessions/BE/BEC/S1", {"kwh": 1, "last_updated": "2030-01-01T00:00:00Z"}),
]


async def snapshot(sessionmaker: SessionMaker) -> list[int]:
    return [await count(sessionmaker, t) for t in TABLES]


@pytest.fixture
async def cpo(sessionmaker: SessionMaker) -> dict[str, str]:
    _, headers = await pushing_partner(sessionmaker, ("BE", "BEC"), ("BE", "ABC"))
    return headers


@pytest.fixture
async def seeded(client: httpx.AsyncClient, cpo: dict[str, str]) -> dict[str, str]:
    """Every object the WRITES touch exists (so PATCHes reach validation)."""
    for method, url, body in WRITES:
        if method == "PUT":
            assert (await client.put(url, json=body, headers=cpo)).status_code in (200, 201), url
    return cpo


async def test_foreign_party_in_url_is_404_and_nothing_changes(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, seeded: dict[str, str]
) -> None:
    _, other = await pushing_partner(sessionmaker, ("NL", "XYZ"))
    before = await snapshot(sessionmaker)
    for method, url, body in WRITES:
        response = await client.request(method, url, json=body, headers=other)
        assert (response.status_code, response.json()["status_code"]) == (404, 2000), (method, url)
        assert "BE/BEC" in response.json()["status_message"]
    for url in (LOC, f"{LOC}/3256", f"{V}/tariffs/BE/BEC/T1", f"{V}/sessions/BE/BEC/S1"):
        assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.delete(f"{V}/tariffs/BE/BEC/T1", headers=other)).status_code == 404
    assert await snapshot(sessionmaker) == before
    assert (await client.get(f"{V}/tariffs/BE/BEC/T1", headers=seeded)).status_code == 200


async def test_foreign_party_in_body_is_404_own_other_party_is_2001(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: dict[str, str]
) -> None:
    for url, body in [
        (LOC, example("location_example.json")),
        (f"{V}/tariffs/BE/BEC/T1", tariff()),
        (f"{V}/sessions/BE/BEC/S1", session_body()),
    ]:
        foreign = dict(body, country_code="NL", party_id="XYZ")
        response = await client.put(url, json=foreign, headers=cpo)
        assert (response.status_code, response.json()["status_code"]) == (404, 2000), url
        sibling = dict(body, party_id="ABC")  # a party the partner has, but not the URL's
        response = await client.put(url, json=sibling, headers=cpo)
        assert (response.status_code, response.json()["status_code"]) == (400, 2001), url
    assert await snapshot(sessionmaker) == [0] * len(TABLES)


async def test_path_id_differs_from_body_id(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, seeded: dict[str, str]
) -> None:
    before = await snapshot(sessionmaker)
    evse = example("location_example.json")["evses"][0]
    connector = evse["connectors"][0]
    for method, url, body in [
        ("PUT", f"{V}/locations/BE/BEC/OTHER", example("location_example.json")),
        ("PUT", f"{LOC}/9999", evse),
        ("PUT", f"{LOC}/3256/9", connector),
        ("PUT", f"{V}/tariffs/BE/BEC/T2", tariff()),
        ("PUT", f"{V}/sessions/BE/BEC/S2", session_body()),
        ("PATCH", f"{V}/sessions/BE/BEC/S1", {"id": "S9", "last_updated": "2030-01-01T00:00:00Z"}),
        ("PATCH", f"{LOC}/3256", {"uid": "1", "last_updated": "2030-01-01T00:00:00Z"}),
    ]:
        response = await client.request(method, url, json=body, headers=seeded)
        assert (response.status_code, response.json()["status_code"]) == (400, 2001), (method, url)
        assert "differ" in response.json()["status_message"]
    assert await snapshot(sessionmaker) == before


async def test_keys_compare_case_insensitively(client: httpx.AsyncClient, cpo: dict[str, str]) -> None:
    location = example("location_example.json")
    assert (await client.put(f"{V}/locations/be/bec/loc1", json=location, headers=cpo)).status_code == 201
    data = (await client.get(f"{V}/locations/BE/BEC/Loc1/3256/1", headers=cpo)).json()["data"]
    assert data == location["evses"][0]["connectors"][0]


@pytest.mark.parametrize(
    "bad",
    [b"{not json", b"", b"[1, 2]", b'"text"', b'{"country_code": 12}', b"{}"],
)
async def test_bad_bodies_on_every_write_endpoint(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, seeded: dict[str, str], bad: bytes
) -> None:
    before = await snapshot(sessionmaker)
    headers = dict(seeded, **{"Content-Type": "application/json"})
    for method, url, _body in WRITES:
        response = await client.request(method, url, content=bad, headers=headers)
        assert response.status_code == 400, (method, url, bad, response.text)
        body = response.json()
        assert body["status_code"] == 2001 and "data" not in body
        assert body["status_message"]
        assert body["timestamp"].endswith("Z")
    assert await snapshot(sessionmaker) == before


async def test_wrong_types_and_enums(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: dict[str, str]
) -> None:
    location = example("location_example.json")
    for change in [
        {"publish": "maybe"},
        {"coordinates": {"latitude": "north"}},
        {"id": "x" * 37},
        {"evses": 3},
    ]:
        response = await client.put(LOC, json=dict(location, **change), headers=cpo)
        assert (response.status_code, response.json()["status_code"]) == (400, 2001), change
    assert await snapshot(sessionmaker) == [0] * len(TABLES)


async def test_path_segments_too_long_and_no_credentials(
    client: httpx.AsyncClient, cpo: dict[str, str]
) -> None:
    response = await client.get(f"{V}/locations/BEX/BEC/LOC1", headers=cpo)
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    response = await client.get(f"{V}/locations/BE/BEC/{'x' * 37}", headers=cpo)
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    for method, url, body in WRITES:
        assert (await client.request(method, url, json=body)).status_code == 401
        assert (await client.request(method, url, json=body, headers=ocpi_auth("unknown"))).status_code == 401


async def test_routing_headers_validated_and_swapped(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, cpo: dict[str, str]
) -> None:
    routed = dict(
        cpo,
        **{
            "OCPI-from-country-code": "BE",
            "OCPI-from-party-id": "BEC",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "EMS",
        },
    )
    response = await client.put(LOC, json=example("location_example.json"), headers=routed)
    assert response.status_code == 201
    assert response.headers["OCPI-to-country-code"] == "BE"
    assert response.headers["OCPI-to-party-id"] == "BEC"
    assert response.headers["OCPI-from-country-code"] == "NL"
    assert response.headers["OCPI-from-party-id"] == "EMS"
    response = await client.get(LOC, headers=routed)
    assert response.status_code == 200 and response.headers["OCPI-to-party-id"] == "BEC"
    errored = await client.get(f"{LOC}/none", headers=routed)  # errors carry them too
    assert errored.status_code == 404 and errored.headers["OCPI-to-party-id"] == "BEC"

    open_routing = {k: v for k, v in routed.items() if not k.startswith("OCPI-to")}
    response = await client.get(LOC, headers=open_routing)
    assert response.headers["OCPI-from-party-id"] == "EMS" and response.headers["OCPI-to-party-id"] == "BEC"

    not_caller = dict(routed, **{"OCPI-from-party-id": "XYZ"})
    response = await client.patch(
        LOC, json={"name": "n", "last_updated": "2030-01-01T00:00:00Z"}, headers=not_caller
    )
    assert (response.status_code, response.json()["status_code"]) == (404, 2000)
    not_us = dict(routed, **{"OCPI-to-party-id": "ZZZ"})
    response = await client.patch(
        LOC, json={"name": "n", "last_updated": "2030-01-01T00:00:00Z"}, headers=not_us
    )
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    half = {k: v for k, v in routed.items() if k != "OCPI-from-party-id"}
    response = await client.patch(
        LOC, json={"name": "n", "last_updated": "2030-01-01T00:00:00Z"}, headers=half
    )
    assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    assert (await client.get(LOC, headers=cpo)).json()["data"]["name"] == "Gent Zuid"


async def test_broadcast_from_a_hub_party(client: httpx.AsyncClient, sessionmaker: SessionMaker) -> None:
    """A Broadcast Push arrives with the hub in OCPI-from-* (4.1.8.3): the hub's own party counts there."""
    _, hub = await pushing_partner(sessionmaker, ("DE", "HUB"), role="HUB")
    info = {
        "country_code": "BE",
        "party_id": "BEC",
        "role": "CPO",
        "status": "CONNECTED",
        "last_updated": "2020-01-01T00:00:00Z",
    }
    assert (await client.put(f"{V}/hubclientinfo/BE/BEC", json=info, headers=hub)).status_code == 201
    headers = dict(
        hub,
        **{
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "HUB",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "EMS",
        },
    )
    response = await client.put(LOC, json=example("location_example.json"), headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["OCPI-to-party-id"] == "HUB"
