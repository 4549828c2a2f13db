"""Credit hold: set and released through the admin API and the CLI, recorded in the history; real-time
authorization answers NO_CREDIT while it lasts, BLOCKED / EXPIRED / not valid answer first; the OCPI Token
stays as it was (`valid` true); bad input stores nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from emsp.cli import app
from emsp.db import SessionMaker
from tests.support.builders import make_partner, ocpi_auth

BASE = "/admin/v1/tokens"
AUTHORIZE = "/ocpi/2.2.1/tokens/{uid}/authorize"


@pytest.fixture
async def cpo_token(sessionmaker: SessionMaker) -> str:
    async with sessionmaker() as session:
        _partner, token = await make_partner(session)
        await session.commit()
    return token


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: Any = None
) -> dict[str, Any]:
    response = await client.post(f"{BASE}/{path}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def allowed(client: httpx.AsyncClient, cpo_token: str, uid: str, body: Any = None) -> dict[str, Any]:
    response = await client.post(AUTHORIZE.format(uid=uid), json=body, headers=ocpi_auth(cpo_token))
    assert (response.status_code, response.json()["status_code"]) == (200, 1000), response.text
    info: dict[str, Any] = response.json()["data"]
    return info


async def test_hold_answers_no_credit_until_released(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo_token: str
) -> None:
    token = await create(
        client, admin_headers, uid="CH1", allowed_locations=[{"location_id": "LOC1", "evse_uids": ["E1"]}]
    )
    assert (token["credit_hold"], token["credit_hold_reason"]) == (False, None)
    assert (await allowed(client, cpo_token, "CH1", {"location_id": "LOC1"}))["allowed"] == "ALLOWED"

    held = await post(client, admin_headers, f"{token['id']}/credit-hold", {"reason": "invoice 42 unpaid"})
    assert (held["credit_hold"], held["credit_hold_reason"], held["version"]) == (
        True,
        "invoice 42 unpaid",
        2,
    )
    assert held["ocpi"] == dict(token["ocpi"], last_updated=held["ocpi"]["last_updated"])  # valid stays true
    assert held["ocpi"]["valid"] is True and "credit" not in json.dumps(held["ocpi"])
    for body in ({"location_id": "LOC1"}, {"location_id": "ELSEWHERE"}, None):  # location irrelevant
        info = await allowed(client, cpo_token, "CH1", body)
        assert (info["allowed"], info["token"]["valid"]) == ("NO_CREDIT", True)
        assert info["info"]["language"] == "en" and "credit" in info["info"]["text"]
        assert "invoice" not in info["info"]["text"]  # the operator's reason stays inside
        assert "authorization_reference" not in info and "location" not in info
    listed = (await client.get(BASE, params={"credit_hold": "true"}, headers=admin_headers)).json()
    assert [t["uid"] for t in listed["items"]] == ["CH1"]

    released = await post(client, admin_headers, "CH1/credit-release", {"reason": "paid"})
    assert (released["credit_hold"], released["credit_hold_reason"], released["version"]) == (False, None, 3)
    assert [(h["action"], h["actor"]) for h in released["history"]] == [
        ("create", "tester"),
        ("credit_hold", "tester"),
        ("credit_release", "tester"),
    ]
    assert released["history"][1]["changes"] == {
        "credit_hold": [False, True],
        "credit_hold_reason": [None, "invoice 42 unpaid"],
    }
    assert released["history"][2]["changes"]["reason"] == [None, "paid"]
    assert (await allowed(client, cpo_token, "CH1", {"location_id": "LOC1"}))["allowed"] == "ALLOWED"
    assert (await post(client, admin_headers, "CH1/credit-hold", {"reason": "again"}))["credit_hold"]
    assert not (await post(client, admin_headers, "CH1/credit-release"))["credit_hold"]  # body optional


async def test_blocked_expired_and_not_valid_answer_before_the_hold(
    client: httpx.AsyncClient, admin_headers: dict[str, str], cpo_token: str, sessionmaker: SessionMaker
) -> None:
    for uid, extra in (("BL", {}), ("EX", {}), ("FU", {"valid_from": "2999-01-01T00:00:00Z"}), ("DE", {})):
        await create(client, admin_headers, uid=uid, **extra)
        await post(client, admin_headers, f"{uid}/credit-hold", {"reason": "no credit"})
    await post(client, admin_headers, "BL/block", {"reason": "stolen"})
    await post(client, admin_headers, "DE/deactivate")
    async with sessionmaker() as session:  # valid_until passed, the expiry job not run yet
        conn = await session.connection()
        await conn.execute(
            text("UPDATE tokens SET valid_until = :at WHERE uid = 'EX'"),
            {"at": datetime(2020, 1, 1, tzinfo=UTC)},
        )
        await session.commit()
    expected = {"BL": "BLOCKED", "EX": "EXPIRED", "FU": "NOT_ALLOWED", "DE": "NOT_ALLOWED"}
    for uid, answer in expected.items():
        info = await allowed(client, cpo_token, uid)
        assert (info["allowed"], info["token"]["valid"]) == (answer, False), uid
    await post(client, admin_headers, "BL/unblock")
    assert (await allowed(client, cpo_token, "BL"))["allowed"] == "NO_CREDIT"  # the hold outlives the block


async def snapshot(sessionmaker: SessionMaker) -> list[list[tuple[Any, ...]]]:
    async with sessionmaker() as session:
        conn = await session.connection()
        return [
            [tuple(r) for r in await conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in ("tokens", "token_history")
        ]


BAD_HOLDS: list[tuple[str, Any, int, str]] = [
    ("999999/credit-hold", {"reason": "x"}, 404, "not_found"),
    ("uid:NOPE/credit-hold", {"reason": "x"}, 404, "not_found"),
    ("999999/credit-release", None, 404, "not_found"),
    ("CH2/credit-hold", None, 400, "invalid_request"),
    ("CH2/credit-hold", {}, 400, "invalid_request"),
    ("CH2/credit-hold", {"reason": ""}, 400, "invalid_request"),
    ("CH2/credit-hold", {"reason": 42}, 400, "invalid_request"),
    ("CH2/credit-hold", {"reason": ["x"]}, 400, "invalid_request"),
    ("CH2/credit-hold", {"reason": "x" * 256}, 400, "invalid_request"),
    ("CH2/credit-hold", {"reason": "x", "amount": 5}, 400, "invalid_request"),
    ("CH2/credit-hold", [1, 2], 400, "invalid_request"),
    ("CH2/credit-hold?type=CARD", {"reason": "x"}, 400, "invalid_request"),
    ("CH2/credit-release", None, 409, "conflict"),  # not held
    ("CH2/credit-release", {"reason": 7}, 400, "invalid_request"),
    ("CH2/credit-release", {"why": "x"}, 400, "invalid_request"),
]


async def test_bad_input_stores_nothing(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    await create(client, admin_headers, uid="CH2")
    await create(client, admin_headers, uid="CH3")
    await post(client, admin_headers, "CH3/credit-hold", {"reason": "held"})
    await create(client, admin_headers, uid="CH4")
    await post(client, admin_headers, "CH4/deactivate")
    bad = [*BAD_HOLDS, ("CH3/credit-hold", {"reason": "twice"}, 409, "conflict")]
    bad += [("CH4/credit-hold", {"reason": "x"}, 409, "conflict")]
    before = await snapshot(sessionmaker)
    for path, body, status, code in bad:
        response = await client.post(f"{BASE}/{path}", json=body, headers=admin_headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), (path, body)
    malformed = await client.post(
        f"{BASE}/CH2/credit-hold",
        content="{nope",
        headers=admin_headers | {"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    unauthenticated = await client.post(f"{BASE}/CH2/credit-hold", json={"reason": "x"})
    assert unauthenticated.status_code == 401
    assert await snapshot(sessionmaker) == before


async def cli(db_url: str, *args: str) -> Result:
    parties = '[{"country_code": "NL", "party_id": "EMS", "name": "Test eMSP"}]'
    env = {"EMSP_DATABASE_URL": db_url, "EMSP_PARTIES": parties, "EMSP_LOG_LEVEL": "WARNING"}
    return await asyncio.to_thread(CliRunner().invoke, app, ["tokens", *args], env=env)


async def test_cli_credit_hold_and_release(
    db_url: str, client: httpx.AsyncClient, cpo_token: str, sessionmaker: SessionMaker
) -> None:
    assert (await cli(db_url, "create", "--uid", "CLI1")).exit_code == 0
    held = await cli(db_url, "credit-hold", "CLI1", "--reason", "direct debit failed", "--json")
    assert held.exit_code == 0, held.output
    view = json.loads(held.stdout)
    assert (view["credit_hold"], view["credit_hold_reason"]) == (True, "direct debit failed")
    assert view["history"][-1]["actor"] == "cli" and view["history"][-1]["action"] == "credit_hold"
    assert (await allowed(client, cpo_token, "CLI1"))["allowed"] == "NO_CREDIT"
    shown = await cli(db_url, "show", "CLI1")
    assert "credit_hold" in shown.stdout and "direct debit failed" in shown.stdout

    before = await snapshot(sessionmaker)
    for args in (("credit-hold", "CLI1", "--reason", "twice"), ("credit-hold", "NOPE", "--reason", "x")):
        refused = await cli(db_url, *args)
        assert refused.exit_code == 1, refused.output
    assert (await cli(db_url, "credit-hold", "CLI1")).exit_code == 2  # --reason is required
    assert (await cli(db_url, "credit-hold", "CLI1", "--reason", "")).exit_code == 1
    assert await snapshot(sessionmaker) == before

    released = await cli(db_url, "credit-release", "CLI1", "--json")
    assert released.exit_code == 0, released.output
    assert json.loads(released.stdout)["credit_hold"] is False
    assert (await allowed(client, cpo_token, "CLI1"))["allowed"] == "ALLOWED"
    assert (await cli(db_url, "credit-release", "CLI1")).exit_code == 1  # not held any more
