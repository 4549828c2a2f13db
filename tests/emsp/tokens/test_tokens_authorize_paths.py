"""The real-time authorization's fast read (`emsp.tokens.hotpath`: a plain asyncpg pool on PostgreSQL, the
node's read-only connections `emsp.sqlite_readers` on SQLite) against the regular path
(`queries.authorize_lookup` on the engine): the same rows, value and type, and the same HTTP answers, for
every outcome, unknown token, token type, party, caller and malformed request."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from emsp.app import create_app
from emsp.db import SessionMaker, make_engine, make_sessionmaker
from emsp.node import Node, make_http_client
from emsp.settings import Settings
from emsp.sqlite_readers import sqlite_readers
from emsp.tokens import hotpath, service
from emsp.tokens.hotpath import authorize_rows
from emsp.tokens.queries import authorize_lookup
from emsp.tokens.schemas import BlockRequest, CreditHoldRequest
from emsp.tokens.validity import expire_due
from ocpi.auth import candidate_tokens
from ocpi.types import utcnow
from partners.tables import PartnerStatus, PartnerToken, TokenKind
from partners.tokens import hash_token
from tests.conftest import make_settings
from tests.support.builders import make_partner, make_token, ocpi_auth

URL = "/ocpi/2.2.1/tokens/{uid}/authorize"
PAST = datetime(2020, 1, 1, tzinfo=UTC)

UIDS = [
    "OK1",
    "ok1",
    "BLK",
    "EXP",
    "EXPDATE",
    "OFF",
    "LATER",
    "HOLD",
    "HOLDBLK",
    "RULES",
    "APP",
    "BOTH",
    "NONE",
]


async def _tokens(sessionmaker: SessionMaker) -> None:
    """One token per outcome, plus one of another type and one uid held by both of our parties."""
    async with sessionmaker() as session:
        await make_token(
            session,
            uid="OK1",
            visual_number="CARD-1",
            group_id="G1",
            language="nl",
            energy_contract={"supplier_name": "Green", "contract_id": "EC-1"},
            valid_from="2020-01-01T00:00:00.123456Z",
            valid_until="2999-01-01T00:00:00Z",
        )
        blocked = await make_token(session, uid="BLK")
        await service.block_token(session, blocked, BlockRequest(reason="stolen"), actor="t")
        await make_token(session, uid="EXP", now=PAST, valid_until="2021-01-01T00:00:00Z")
        off = await make_token(session, uid="OFF")
        await service.deactivate_token(session, off, actor="t")
        await make_token(session, uid="LATER", valid_from="2999-01-01T00:00:00Z")
        held = await make_token(session, uid="HOLD")
        await service.hold_credit(session, held, CreditHoldRequest(reason="unpaid"), actor="t")
        held_blocked = await make_token(session, uid="HOLDBLK")
        await service.hold_credit(session, held_blocked, CreditHoldRequest(reason="unpaid"), actor="t")
        await service.block_token(session, held_blocked, BlockRequest(reason="lost"), actor="t")
        await make_token(
            session,
            uid="RULES",
            allowed_locations=[
                {"location_id": "HOME", "evse_uids": ["EVSE-A", "EVSE-B"]},
                {"location_id": "OFFICE"},
            ],
        )
        await make_token(session, uid="APP", type="APP_USER")
        await make_token(session, uid="BOTH")
        await make_token(session, uid="BOTH", country_code="BE", party_id="EM2")
        await session.commit()
    async with sessionmaker() as session:
        # EXP: the expiry job ran; EXPDATE: its window ended, the job has not run since
        await expire_due(session, now=datetime(2021, 6, 1, tzinfo=UTC))
        await make_token(session, uid="EXPDATE", now=PAST, valid_until="2021-01-01T00:00:00Z")
        await session.commit()


async def _callers(sessionmaker: SessionMaker) -> dict[str, str | None]:
    """`Authorization` header values, by what they are."""
    tokens: dict[str, str] = {}
    async with sessionmaker() as session:
        _p, tokens["connected"] = await make_partner(session)
        _p, tokens["token_a"] = await make_partner(
            session, kind=TokenKind.REGISTRATION, status=PartnerStatus.PLANNED
        )
        _p, tokens["planned_server"] = await make_partner(session, status=PartnerStatus.PLANNED)
        _p, tokens["suspended"] = await make_partner(session, status=PartnerStatus.SUSPENDED)
        _p, tokens["unregistered"] = await make_partner(session, status=PartnerStatus.UNREGISTERED)
        _p, tokens["expired"] = await make_partner(session)
        await session.exec(
            update(PartnerToken)
            .where(PartnerToken.token_hash == hash_token(tokens["expired"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        _p, tokens["grace"] = await make_partner(session)
        await session.exec(
            update(PartnerToken)
            .where(PartnerToken.token_hash == hash_token(tokens["grace"]))
            .values(expires_at=utcnow() + timedelta(hours=1))
        )
        await session.commit()
    headers: dict[str, str | None] = {
        name: ocpi_auth(token)["Authorization"] for name, token in tokens.items()
    }
    # three readings of one header (base64 with a trailing newline: decoded, stripped, raw), the second
    # the partner's token; and the token sent raw (one or two readings)
    headers["newline"] = "Token " + base64.b64encode((tokens["connected"] + "\n").encode()).decode()
    headers["raw"] = "Token " + tokens["connected"]
    headers["foreign"] = ocpi_auth("foreign-token")["Authorization"]
    headers["missing"] = None
    return headers


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Both parties `make_token` issues for, so that `OCPI-to-*` can name either."""
    parties = [
        {"country_code": "NL", "party_id": "EMS", "name": "Test eMSP"},
        {"country_code": "BE", "party_id": "EM2", "name": "Second eMSP"},
    ]
    return make_settings(db_url, parties=parties)


@pytest.fixture
def node(app: Any) -> Node:
    result: Node = app.state.node
    return result


@contextmanager
def fast_path_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fails the test if `authorize_rows` falls back to the regular path: on a database in a file, SQLite or
    PostgreSQL, it must always take the fast one (else these comparisons would compare a path with itself)."""

    async def refused(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise AssertionError("authorize_rows took the regular path")

    with monkeypatch.context() as patch:
        patch.setattr(hotpath, "authorize_lookup", refused)
        yield


def _typed(row: Any) -> dict[str, Any]:
    values = row._asdict() if hasattr(row, "_asdict") else vars(row)
    return {
        key: (type(value), value, value.utcoffset() if isinstance(value, datetime) else None)
        for key, value in values.items()
    }


def _sorted(rows: list[Any]) -> list[dict[str, Any]]:
    typed = [_typed(row) for row in rows]
    return sorted(typed, key=lambda row: (row["token_hash"][1], row["id"][1] or 0))


async def test_fast_rows_equal_the_regular_rows(
    node: Node, sessionmaker: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _tokens(sessionmaker)
    callers = await _callers(sessionmaker)
    cases = []
    for header in callers.values():
        digests = list(dict.fromkeys(hash_token(c) for c in candidate_tokens(header)))
        if not digests:
            continue
        for uid in UIDS:
            for token_type in ("RFID", "APP_USER", "OTHER"):
                for party in (None, ("NL", "EMS"), ("BE", "EM2")):
                    cases.append((digests, uid, token_type, party))
    regular = [await authorize_lookup(node.engine, *case) for case in cases]
    with fast_path_only(monkeypatch):
        fast = [await authorize_rows(node, *case) for case in cases]
    found = 0
    for case, expected, got in zip(cases, regular, fast, strict=True):
        assert _sorted(got) == _sorted(expected), case
        found += sum(1 for row in expected if row.id is not None)
    assert found > 50  # the cases do reach tokens, with every kind of value


def _comparable(response: httpx.Response) -> tuple[int, Any, dict[str, str]]:
    body = response.json()
    body.pop("timestamp", None)
    data = body.get("data")
    if isinstance(data, dict) and "authorization_reference" in data:
        assert len(data.pop("authorization_reference")) == 32
        data["authorization_reference"] = "<fresh>"
    routing = {k: v for k, v in response.headers.items() if k.lower().startswith("ocpi-")}
    return response.status_code, body, routing


async def test_fast_answers_equal_the_regular_answers(
    client: httpx.AsyncClient, node: Node, sessionmaker: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _tokens(sessionmaker)
    callers = await _callers(sessionmaker)
    routing = [
        {
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "CPX",
            "OCPI-to-country-code": country,
            "OCPI-to-party-id": party,
        }
        for country, party in (("NL", "EMS"), ("be", "em2"), ("DE", "XXX"))
    ]
    locations: list[dict[str, Any] | None] = [
        None,
        {"location_id": "home", "evse_uids": ["evse-b", "EVSE-C"]},
        {"location_id": "OFFICE"},
        {"location_id": "SHOP"},
    ]
    json = {"Content-Type": "application/json"}
    connected = {"Authorization": callers["connected"] or "", **json}
    requests: list[tuple[str, dict[str, Any]]] = []
    for uid in UIDS:
        for params in (None, {"type": "APP_USER"}, {"type": "app_user"}, {"type": "CARD"}):
            for location in locations:
                requests.append((uid, {"params": params, "json": location, "headers": connected}))
        for to in routing:
            requests.append((uid, {"headers": connected | to}))
            requests.append((uid, {"headers": connected | to, "params": {"type": "APP_USER"}}))
    for header in callers.values():  # every caller, with a good and a bad question
        headers = ({"Authorization": header} if header is not None else {}) | json
        requests.append(("OK1", {"headers": headers}))
        requests.append(("NONE", {"headers": headers}))
        requests.append(("OK1", {"headers": headers, "params": {"type": "CARD"}}))
        requests.append(("OK1", {"headers": headers, "content": "{not json"}))
        requests.append(("U" * 37, {"headers": headers}))

    async def ask() -> list[tuple[int, Any, dict[str, str]]]:
        return [_comparable(await client.post(URL.format(uid=uid), **kwargs)) for uid, kwargs in requests]

    with fast_path_only(monkeypatch):
        fast = await ask()
    with monkeypatch.context() as patch:

        async def regular(n: Node, digests: list[str], uid: str, token_type: str, party: Any) -> list[Any]:
            return await authorize_lookup(n.engine, digests, uid, token_type, party)

        patch.setattr("emsp.ocpi_api.tokens.authorize_rows", regular)
        slow = await ask()
    for (uid, kwargs), got, expected in zip(requests, fast, slow, strict=True):
        assert got == expected, (uid, kwargs)
    outcomes = {answer[1].get("data", {}).get("allowed") for answer in fast if answer[0] == 200}
    assert outcomes == {"ALLOWED", "BLOCKED", "EXPIRED", "NOT_ALLOWED", "NO_CREDIT"}
    statuses = {(answer[0], answer[1]["status_code"]) for answer in fast}
    assert {(404, 2004), (400, 2001), (400, 2002)} <= statuses
    assert sum(1 for answer in fast if answer[0] == 401) >= 6 * 5  # token A, planned, suspended, ...


async def test_fast_path_sees_each_commit(
    client: httpx.AsyncClient, sessionmaker: SessionMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The readers run in autocommit: no snapshot older than the last commit is ever read."""
    async with sessionmaker() as session:
        _p, cpo = await make_partner(session)
        token = await make_token(session, uid="T1")
        await session.commit()
    headers = ocpi_auth(cpo)

    async def allowed() -> str:
        with fast_path_only(monkeypatch):
            answer: str = (await client.post(URL.format(uid="T1"), headers=headers)).json()["data"]["allowed"]
        return answer

    assert [await allowed() for _ in range(8)] == ["ALLOWED"] * 8  # every reader has served
    async with sessionmaker() as session:
        await service.block_token(
            session, await service.get_token(session, token.id), BlockRequest(reason="x"), actor="t"
        )
        await session.commit()
    assert [await allowed() for _ in range(8)] == ["BLOCKED"] * 8


async def test_sqlite_readers_cannot_write_and_close_with_the_node(
    settings: Settings, is_postgres: bool, sessionmaker: SessionMaker
) -> None:
    if is_postgres:
        pytest.skip("SQLite only")

    async with sessionmaker() as session:
        await make_token(session, uid="T1")
        await session.commit()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        node: Node = app.state.node
        readers = await sqlite_readers(node)
        assert readers is not None and await sqlite_readers(node) is readers
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await readers.fetchall("DELETE FROM tokens", ())
        assert list(await readers.fetchall("SELECT uid FROM tokens", ())) == [("T1",)]
    assert "sqlite_readers.readers" not in node.extras


async def test_in_memory_sqlite_takes_the_regular_path(settings: Settings) -> None:
    engine = make_engine("sqlite+aiosqlite://")
    node = Node(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        http=make_http_client(settings),
    )
    try:
        assert await sqlite_readers(node) is None
    finally:
        await node.http.aclose()
        await engine.dispose()
