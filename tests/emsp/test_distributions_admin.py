"""Operator views and actions on token distribution: the admin API (`/admin/v1/distributions`) and the CLI
(`emsp distributions ...`). Retries touch only their scope; bad input stores nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from emsp.db import SessionMaker, session_scope
from emsp.distribution.outcomes import Delivered, record_outcomes
from emsp.distribution.tables import DeliveryStatus, TokenDelivery
from emsp.distribution.worker import claim_due
from ocpi.types import utcnow
from partners.delivery import BackoffPolicy, Outcome, PushResult
from tests.support.builders import make_token_receiver
from tests.support.distribution import create_tokens

_T = TokenDelivery.__table__  # type: ignore[attr-defined]
URL = "http://127.0.0.1:9/ocpi/cpo/2.2.1/tokens"
API = "/admin/v1/distributions"


@dataclass
class Seeded:
    cpo: int
    hub: int
    token_ids: list[int]


@pytest.fixture
async def seeded(sessionmaker: SessionMaker) -> AsyncIterator[Seeded]:
    """Two partners (a CPO and a hub) and three tokens; every row FAILED except token 3 at the hub."""
    async with session_scope(sessionmaker) as session:
        cpo = await make_token_receiver(session, URL, name="cpo-a", party_id="CPA")
        hub = await make_token_receiver(
            session, URL, name="hub-b", role="HUB", country_code="DE", party_id="HUB"
        )
    tokens = await create_tokens(sessionmaker, ["0600A1", "0600A2", "0600A3"])
    ids = [t.id for t in tokens]
    async with session_scope(sessionmaker) as session:
        claims = await claim_due(session, "w", 10, utcnow())
    result = PushResult(Outcome.PERMANENT, 200, 2001, "contract_id refused", "req-9", "ocpi", None, 1, 3.0)
    async with session_scope(sessionmaker) as session:
        await record_outcomes(
            session, [Delivered(c, 1, result, utcnow()) for c in claims], BackoffPolicy(), "w"
        )
        await session.exec(  # type: ignore[call-overload]
            update(_T)
            .where(_T.c.partner_id == hub.id, _T.c.token_id == ids[2])
            .values(status=DeliveryStatus.SUCCEEDED.value, acked_version=1, last_success_at=utcnow())
        )
    yield Seeded(cpo=cpo.id, hub=hub.id, token_ids=ids)  # type: ignore[arg-type]


async def _statuses(sessionmaker: SessionMaker) -> dict[tuple[int, int], str]:
    async with sessionmaker() as session:
        rows = (await session.exec(_T.select())).all()  # type: ignore[call-overload]
    return {(r.partner_id, r.token_id): r.status for r in rows}


async def test_the_per_partner_table(
    client: httpx.AsyncClient, admin_headers: dict[str, str], seeded: Seeded
) -> None:
    assert (await client.get(API)).status_code == 401
    response = await client.get(API, headers=admin_headers)
    assert response.status_code == 200
    table = {p["partner"]: p for p in response.json()["partners"]}
    cpo, hub = table["cpo-a"], table["hub-b"]
    assert (cpo["role"], cpo["country_code"], cpo["party_id"]) == ("CPO", "NL", "CPA")
    assert (hub["role"], hub["country_code"], hub["party_id"]) == ("HUB", "DE", "HUB")
    assert (cpo["succeeded"], cpo["failed"], cpo["pending"]) == (0, 3, 0)
    assert (hub["succeeded"], hub["failed"], hub["pending"]) == (1, 2, 0)
    assert hub["last_success_at"] and cpo["last_success_at"] is None and cpo["last_failure_at"]
    one = await client.get(API, params={"partner": "hub-b"}, headers=admin_headers)
    assert [p["partner"] for p in one.json()["partners"]] == ["hub-b"]


async def test_retry_touches_only_its_scope(
    client: httpx.AsyncClient, admin_headers: dict[str, str], seeded: Seeded, sessionmaker: SessionMaker
) -> None:
    response = await client.post(f"{API}/retry", params={"partner": "cpo-a"}, headers=admin_headers)
    assert response.json() == {"retried": 3, "scope": {"partner_id": seeded.cpo, "token_id": None}}
    statuses = await _statuses(sessionmaker)
    assert {s for (p, _), s in statuses.items() if p == seeded.cpo} == {"PENDING"}
    assert sorted(s for (p, _), s in statuses.items() if p == seeded.hub) == ["FAILED", "FAILED", "SUCCEEDED"]

    response = await client.post(f"{API}/retry", params={"token": "0600A1"}, headers=admin_headers)
    assert response.json()["retried"] == 1  # only the hub's row of that token was still FAILED
    statuses = await _statuses(sessionmaker)
    assert statuses[(seeded.hub, seeded.token_ids[0])] == "PENDING"
    assert statuses[(seeded.hub, seeded.token_ids[1])] == "FAILED"

    response = await client.post(f"{API}/retry", headers=admin_headers)
    assert response.json()["retried"] == 1
    assert "FAILED" not in (await _statuses(sessionmaker)).values()


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("post", "/retry", {"partner": "nobody"}, 404),
        ("post", "/retry", {"token": "no-such-uid"}, 404),
        ("post", "/retry", {"partner": ""}, 400),
        ("post", "/retry", {"partner": "cpo-a", "token": "nope"}, 404),
        ("post", "/retry", {"token": "0600A1", "type": "BADGE"}, 400),
        ("get", "/deliveries", {"status": "LOST"}, 400),
        ("get", "/deliveries", {"limit": "0"}, 400),
        ("get", "/tokens/no-such-uid", {}, 404),
        ("post", "/reconcile", {}, 400),
        ("post", "/reconcile", {"partner": "nobody"}, 404),
    ],
)
async def test_bad_input_stores_nothing(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    seeded: Seeded,
    sessionmaker: SessionMaker,
    method: str,
    path: str,
    params: dict[str, str],
    status: int,
) -> None:
    before = await _statuses(sessionmaker)
    response = await getattr(client, method)(API + path, params=params, headers=admin_headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert await _statuses(sessionmaker) == before


async def test_a_tokens_distribution_with_its_attempt_log(
    client: httpx.AsyncClient, admin_headers: dict[str, str], seeded: Seeded
) -> None:
    response = await client.get(f"{API}/tokens/0600A3", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert body["token"]["uid"] == "0600A3"
    by_partner = {p["partner"]: p for p in body["partners"]}
    assert by_partner["hub-b"]["status"] == "SUCCEEDED" and by_partner["hub-b"]["acked_version"] == 1
    failed = by_partner["cpo-a"]
    assert failed["status"] == "FAILED" and failed["last_outcome"]["ocpi_status"] == 2001
    assert failed["last_outcome"]["message"] == "contract_id refused"
    (attempt,) = failed["attempt_log"]
    assert (attempt["outcome"], attempt["version"], attempt["request_id"]) == ("PERMANENT", 1, "req-9")
    listed = await client.get(
        f"{API}/deliveries", params={"partner": "hub-b", "status": "FAILED"}, headers=admin_headers
    )
    assert sorted(d["token_uid"] for d in listed.json()["deliveries"]) == ["0600A1", "0600A2"]
    detail = await client.get(f"/admin/v1/tokens/{seeded.token_ids[0]}", headers=admin_headers)
    assert {d["partner"] for d in detail.json()["distribution"]} == {"cpo-a", "hub-b"}


def test_cli_status_and_retry(seeded: Seeded, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from emsp.cli import app

    monkeypatch.setenv("EMSP_DATABASE_URL", db_url)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["distributions", *args], env={"COLUMNS": "200"})
        return result.exit_code, result.output

    code, out = run("status", "--json")
    assert code == 0, out
    counts = {p["partner"]: (p["succeeded"], p["failed"]) for p in json.loads(out)["partners"]}
    assert counts == {"cpo-a": (0, 3), "hub-b": (1, 2)}

    code, out = run("retry", "--partner", "nobody", "--json")
    assert code == 1 and "nobody" in out
    code, out = run("retry", "--partner", "hub-b", "--json")
    assert code == 0 and json.loads(out)["retried"] == 2
    code, out = run("retry", "--token", "0600A1", "--json")
    assert code == 0 and json.loads(out)["retried"] == 1
    code, out = run("status", "--partner", "cpo-a")
    assert code == 0 and "cpo-a" in out

    code, out = run("status", "--json")
    counts = {p["partner"]: (p["failed"], p["pending"]) for p in json.loads(out)["partners"]}
    assert counts == {"cpo-a": (2, 1), "hub-b": (0, 2)}


async def test_the_jobs_are_registered_and_run_on_the_node(app: object, seeded: Seeded) -> None:
    from emsp.distribution.jobs import delivery_job, reconcile_job, sync_job
    from emsp.scheduler import registered_jobs

    names = {name for name, _, _ in registered_jobs()}
    assert {"distribution.deliver", "distribution.sync", "distribution.reconcile"} <= names
    node = app.state.node  # type: ignore[attr-defined]
    await sync_job(node)
    await delivery_job(node)  # every row is FAILED or SUCCEEDED: nothing is due, it returns
    await reconcile_job(node)  # the partners' URL is unreachable: errors decide nothing


@pytest.fixture
async def hub_with_parties(sessionmaker: SessionMaker) -> None:
    """A hub reporting BE-AAA CONNECTED and FR-BBB OFFLINE, and two tokens."""
    from emsp.ingest.hubclientinfo import put_client_info
    from ocpi.models.hubclientinfo import ClientInfo
    from tests.support.distribution import client_info

    async with session_scope(sessionmaker) as session:
        hub = await make_token_receiver(
            session, URL, name="hub-c", role="HUB", country_code="DE", party_id="HUB"
        )
        assert hub.id is not None
        for cc, pid, status in (("BE", "AAA", "CONNECTED"), ("FR", "BBB", "OFFLINE")):
            info = ClientInfo.model_validate(client_info(cc, pid, status))
            await put_client_info(session, info, partner_id=hub.id)
    await create_tokens(sessionmaker, ["0601H1", "0601H2"])


def test_cli_status_shows_one_line_per_party_behind_a_hub(
    hub_with_parties: None, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emsp.cli import app

    monkeypatch.setenv("EMSP_DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["distributions", "status"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "hub-c" in line]
    assert len(lines) == 2
    connected, offline = sorted(lines, key=lambda line: "BBB" in line)
    assert "BE-AAA via DE-HUB (CONNECTED)" in connected and "NOT_CONNECTED" not in connected
    assert "FR-BBB via DE-HUB (OFFLINE)" in offline and "paused: NOT_CONNECTED" in offline

    result = CliRunner().invoke(app, ["distributions", "status", "--json"])
    (entry,) = json.loads(result.output)["partners"]
    parties = {(p["country_code"], p["party_id"]): (p["pending"], p["paused"]) for p in entry["parties"]}
    assert parties == {("BE", "AAA"): (2, 0), ("FR", "BBB"): (2, 2)}
