"""`emsp partners ...` through typer's CliRunner, on the test database (EMSP_DATABASE_URL). The CLI runs
its own event loop, so each invocation runs in a worker thread. Registrations toward a fake CPO use a live
node as our public URL, since the CPO calls us back during the exchange."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from emsp.cli import app
from emsp.db import SessionMaker
from ocpi.types import utcnow
from partners.tokens import find_by_token
from tests.support.fake_cpo import make_fake_cpo
from tests.support.partners import partner_row
from tests.support.servers import RunningServer, free_port

PARTIES = '[{"country_code": "NL", "party_id": "EMS", "name": "Test eMSP"}]'


async def emsp(db_url: str, *args: str, public_url: str = "http://127.0.0.1:9") -> Result:
    env = {
        "EMSP_DATABASE_URL": db_url,
        "EMSP_PUBLIC_URL": public_url,
        "EMSP_ALLOW_PRIVATE_URLS": "true",
        "EMSP_PARTIES": PARTIES,
        "EMSP_LOG_LEVEL": "WARNING",
    }
    return await asyncio.to_thread(CliRunner().invoke, app, ["partners", *args], env=env)


async def emsp_json(db_url: str, *args: str, public_url: str = "http://127.0.0.1:9") -> Any:
    result = await emsp(db_url, *args, "--json", public_url=public_url)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_invite_prints_versions_url_and_token_a(db_url: str, sessionmaker: SessionMaker) -> None:
    result = await emsp(db_url, "invite", "acme")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9/ocpi/versions" in result.stdout
    token_a = result.stdout.split("token A:")[1].split()[0]
    async with sessionmaker() as session:
        found = await find_by_token(session, [token_a], utcnow())
    assert found is not None and found.partner.name == "acme" and found.kind == "REGISTRATION"


async def test_list_and_show_never_print_a_token(db_url: str) -> None:
    invited = await emsp_json(db_url, "invite", "acme")
    token_a = invited["token_a"]
    assert invited["partner"]["status"] == "PLANNED"
    outputs = [
        await emsp(db_url, "list"),
        await emsp(db_url, "list", "--json"),
        await emsp(db_url, "show", "acme"),
        await emsp(db_url, "show", str(invited["partner"]["id"]), "--json"),
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert "acme" in result.stdout
        assert token_a not in result.output
    assert [p["name"] for p in json.loads(outputs[1].stdout)] == ["acme"]


async def test_register_suspend_resume_rotate_unregister(
    db_url: str, live_node: RunningServer, sessionmaker: SessionMaker
) -> None:
    with make_fake_cpo(party_id="CLI").running() as cpo:
        node = live_node.url
        args = ("register", "--versions-url", cpo.state.versions_url, "--token", cpo.state.token_a)
        view = await emsp_json(db_url, *args, "--name", "cli-cpo", public_url=node)
        assert (view["status"], view["roles"][0]["party_id"]) == ("CONNECTED", "CLI")
        assert cpo.state.emsp_versions_url == f"{node}/ocpi/versions"
        first_b = cpo.state.token_for_emsp

        suspended = await emsp_json(db_url, "suspend", "cli-cpo", "--reason", "maintenance")
        assert (suspended["status"], suspended["status_reason"]) == ("SUSPENDED", "maintenance")
        assert (await emsp_json(db_url, "resume", "cli-cpo"))["status"] == "CONNECTED"

        rotated = await emsp_json(db_url, "rotate", "cli-cpo", public_url=node)
        assert rotated["status"] == "CONNECTED"
        assert cpo.state.token_for_emsp != first_b
        assert (await partner_row(sessionmaker, "cli-cpo"))["client_token"] == next(iter(cpo.state.accepted))

        gone = await emsp_json(db_url, "unregister", "cli-cpo", public_url=node)
        assert (gone["partner"]["status"], gone["partner_notified"]) == ("UNREGISTERED", True)
        assert not cpo.state.registered


async def test_register_with_raw_token(db_url: str, live_node: RunningServer) -> None:
    with make_fake_cpo(raw_tokens=True).running() as cpo:
        args = (
            "register",
            "--versions-url",
            cpo.state.versions_url,
            "--token",
            cpo.state.token_a,
            "--raw-token",
        )
        result = await emsp(db_url, *args, public_url=live_node.url)
    assert result.exit_code == 0, result.output
    assert "CONNECTED" in result.stdout
    assert cpo.state.registered


async def test_errors_exit_non_zero_with_a_message(db_url: str) -> None:
    unknown = await emsp(db_url, "show", "nobody")
    assert unknown.exit_code == 1
    assert "No partner 'nobody'" in unknown.output
    url = f"http://127.0.0.1:{free_port()}/ocpi/versions"
    unreachable = await emsp(db_url, "register", "--versions-url", url, "--token", "token-a")
    assert unreachable.exit_code == 1
    assert "GET versions failed" in unreachable.output
    bad_token = await emsp(db_url, "register", "--versions-url", url, "--token", "with space")
    assert bad_token.exit_code == 1
    assert "token" in bad_token.output
    assert (await emsp(db_url, "resume", "nobody")).exit_code == 1
    assert json.loads((await emsp(db_url, "list", "--json")).stdout) == []
