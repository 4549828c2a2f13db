"""`emsp tokens ...` through typer's CliRunner on the test database (EMSP_DATABASE_URL). The CLI runs its
own event loop, so each invocation runs in a worker thread."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from emsp.cli import app
from emsp.db import SessionMaker
from emsp.tokens.contract_id import check_digit

PARTIES = '[{"country_code": "NL", "party_id": "EMS", "name": "Test eMSP"}]'


async def emsp(db_url: str, *args: str) -> Result:
    env = {"EMSP_DATABASE_URL": db_url, "EMSP_PARTIES": PARTIES, "EMSP_LOG_LEVEL": "WARNING"}
    return await asyncio.to_thread(CliRunner().invoke, app, ["tokens", *args], env=env)


async def emsp_json(db_url: str, *args: str) -> Any:
    result = await emsp(db_url, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def count_rows(sessionmaker: SessionMaker) -> tuple[int, int]:
    async with sessionmaker() as session:
        conn = await session.connection()
        tokens = (await conn.execute(text("SELECT count(*) FROM tokens"))).scalar_one()
        history = (await conn.execute(text("SELECT count(*) FROM token_history"))).scalar_one()
    return int(tokens), int(history)


async def test_create_show_list(db_url: str) -> None:
    contract_id = "NL-EMS-C00000042-" + check_digit("NLEMSC00000042")
    created = await emsp_json(
        db_url,
        "create",
        "--uid",
        "04DEADBEEF",
        "--contract-id",
        contract_id.lower(),
        "--visual-number",
        "CARD-42",
        "--whitelist",
        "always",
        "--valid-until",
        "2099-01-01T00:00:00Z",
        "--energy-supplier",
        "Green",
        "--allowed-location",
        "LOC1:E1,E2",
        "--allowed-location",
        "LOC2",
    )
    assert (created["uid"], created["contract_id"], created["whitelist"]) == (
        "04DEADBEEF",
        contract_id,
        "ALWAYS",
    )
    assert created["allowed_locations"] == [
        {"location_id": "LOC1", "evse_uids": ["E1", "E2"]},
        {"location_id": "LOC2"},
    ]
    assert created["energy_contract"] == {"supplier_name": "Green", "contract_id": None}
    assert created["history"][0]["actor"] == "cli"
    assert created["ocpi"]["valid"] is True

    shown = await emsp_json(db_url, "show", "04deadbeef")
    assert shown["id"] == created["id"]
    app_user = await emsp_json(db_url, "create", "--type", "APP_USER")
    assert app_user["whitelist"] == "NEVER"

    listed = await emsp_json(db_url, "list")
    assert listed["total"] == 2
    assert [t["id"] for t in listed["items"]] == [created["id"], app_user["id"]]
    only_app = await emsp_json(db_url, "list", "--type", "app_user")
    assert [t["id"] for t in only_app["items"]] == [app_user["id"]]
    by_q = await emsp_json(db_url, "list", "--q", "card-42")
    assert [t["id"] for t in by_q["items"]] == [created["id"]]

    table = await emsp(db_url, "list")
    assert table.exit_code == 0 and "Tokens 1-2 of 2" in table.stdout
    text_show = await emsp(db_url, "show", str(created["id"]))
    assert text_show.exit_code == 0 and contract_id in text_show.stdout


async def test_block_unblock_deactivate(db_url: str) -> None:
    created = await emsp_json(db_url, "create", "--uid", "AA11")
    blocked = await emsp_json(db_url, "block", "AA11", "--reason", "lost")
    assert (blocked["status"], blocked["block_reason"], blocked["version"]) == ("BLOCKED", "lost", 2)
    unblocked = await emsp_json(db_url, "unblock", str(created["id"]))
    assert unblocked["status"] == "ACTIVE"
    done = await emsp_json(db_url, "deactivate", "AA11", "--reason", "closed")
    assert done["status"] == "INACTIVE"
    assert [(h["actor"], h["action"]) for h in done["history"]] == [
        ("cli", "create"),
        ("cli", "block"),
        ("cli", "unblock"),
        ("cli", "deactivate"),
    ]
    again = await emsp(db_url, "unblock", "AA11")
    assert again.exit_code == 1
    assert "deactivated" in again.output


async def test_errors_exit_1_and_store_nothing(db_url: str, sessionmaker: SessionMaker) -> None:
    for args, message in (
        (["create"], "uid is required"),
        (["create", "--uid", "X", "--contract-id", "NL-EMS-C12345678-0"], "check digit"),
        (["create", "--uid", "X", "--type", "CARD"], "type"),
        (["create", "--uid", "X", "--party", "DE-XXX"], "not one of our parties"),
        (["create", "--uid", "X", "--valid-until", "soon"], "valid_until"),
        (["show", "404"], "no token"),
        (["block", "nope", "--reason", "r"], "no token"),
        (["block", "nope", "--reason", ""], "reason"),
    ):
        result = await emsp(db_url, *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    assert await count_rows(sessionmaker) == (0, 0)
    await emsp_json(db_url, "create", "--uid", "DUP")
    duplicate = await emsp(db_url, "create", "--uid", "dup")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    assert await count_rows(sessionmaker) == (1, 1)
