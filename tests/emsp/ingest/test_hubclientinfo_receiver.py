"""HubClientInfo RECEIVER (spec mod_hub_client_info.asciidoc): only a hub may push ClientInfo; the parties it
reports become parties that hub may push objects for, until SUSPENDED."""

from __future__ import annotations

from typing import Any

import httpx

from emsp.db import SessionMaker
from emsp.ingest.tables import HubClientInfo
from tests.support.ingest import V, count, example, pushing_partner

LOC = f"{V}/locations/BE/BEC/LOC1"


def info(status: str = "CONNECTED", last_updated: str = "2020-01-01T00:00:00Z", **kw: Any) -> dict[str, Any]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "role": "CPO",
        "status": status,
        "last_updated": last_updated,
        **kw,
    }


async def test_hub_reports_parties_it_may_then_push_for(
    client: httpx.AsyncClient, sessionmaker: SessionMaker
) -> None:
    _, hub = await pushing_partner(sessionmaker, ("DE", "HUB"), role="HUB")
    location = example("location_example.json")
    before = await client.put(LOC, json=location, headers=hub)
    assert (before.status_code, before.json()["status_code"]) == (404, 2000)

    created = await client.put(f"{V}/hubclientinfo/BE/BEC", json=info(), headers=hub)
    assert (created.status_code, created.json()["status_code"]) == (201, 1000)
    got = await client.get(f"{V}/hubclientinfo/be/bec", headers=hub)
    assert got.json()["data"] == info()
    assert (await client.put(LOC, json=location, headers=hub)).status_code == 201

    offline = await client.put(
        f"{V}/hubclientinfo/BE/BEC", json=info("OFFLINE", "2020-02-01T00:00:00Z"), headers=hub
    )
    assert offline.status_code == 200
    stale = await client.put(
        f"{V}/hubclientinfo/BE/BEC", json=info("CONNECTED", "2019-01-01T00:00:00Z"), headers=hub
    )
    assert stale.json()["status_code"] == 1000 and "Ignored" in stale.json()["status_message"]
    assert (await client.get(f"{V}/hubclientinfo/BE/BEC", headers=hub)).json()["data"]["status"] == "OFFLINE"
    assert (await client.get(LOC, headers=hub)).status_code == 200  # OFFLINE still speaks for it

    suspended = info("SUSPENDED", "2020-03-01T00:00:00Z")
    assert (await client.put(f"{V}/hubclientinfo/BE/BEC", json=suspended, headers=hub)).status_code == 200
    assert (await client.get(LOC, headers=hub)).status_code == 404
    assert await count(sessionmaker, HubClientInfo) == 1


async def test_only_hubs_and_matching_parties(client: httpx.AsyncClient, sessionmaker: SessionMaker) -> None:
    _, cpo = await pushing_partner(sessionmaker, ("NL", "CPO"))
    refused = await client.put(f"{V}/hubclientinfo/BE/BEC", json=info(), headers=cpo)
    assert (refused.status_code, refused.json()["status_code"]) == (403, 2000)
    assert (await client.get(f"{V}/hubclientinfo/BE/BEC", headers=cpo)).status_code == 403
    _, hub = await pushing_partner(sessionmaker, ("DE", "HUB"), role="HUB")
    mismatch = await client.put(f"{V}/hubclientinfo/NL/XYZ", json=info(), headers=hub)
    assert (mismatch.status_code, mismatch.json()["status_code"]) == (400, 2001)
    for bad in [b"{", b"{}", b'{"country_code":"BE","party_id":"BEC","role":"KING","status":"CONNECTED"}']:
        response = await client.put(
            f"{V}/hubclientinfo/BE/BEC",
            content=bad,
            headers=dict(hub, **{"Content-Type": "application/json"}),
        )
        assert (response.status_code, response.json()["status_code"]) == (400, 2001)
    missing = await client.get(f"{V}/hubclientinfo/BE/BEC", headers=hub)
    assert (missing.status_code, missing.json()["status_code"]) == (404, 2000)
    assert await count(sessionmaker, HubClientInfo) == 0
