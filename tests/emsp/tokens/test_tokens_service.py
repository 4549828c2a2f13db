"""Token rules on the real database: every transition, history, version and last_updated, uniqueness,
the validity jobs and the OCPI mapping."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import SessionMaker
from emsp.settings import OwnParty
from emsp.tokens import service
from emsp.tokens.contract_id import normalise_contract_id
from emsp.tokens.errors import InvalidTokenData, TokenConflict, TokenNotFound
from emsp.tokens.ocpi_map import is_valid, to_ocpi
from emsp.tokens.schemas import BlockRequest, DeactivateRequest, TokenCreate, TokenEdit
from emsp.tokens.tables import Token, TokenHistory, TokenStatus
from emsp.tokens.validity import expire_due, start_due
from ocpi.models.tokens import Token as OcpiToken

PARTIES = [
    OwnParty(country_code="NL", party_id="EMS", name="Test eMSP"),
    OwnParty(country_code="BE", party_id="EM2", name="Second eMSP"),
]
T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
async def session(sessionmaker: SessionMaker) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s
        await s.rollback()


async def create(session: AsyncSession, now: datetime = T0, **fields: Any) -> Token:
    fields.setdefault("uid", "04A1B2C3D4E5F6")
    return await service.create_token(
        session, TokenCreate.model_validate(fields), parties=PARTIES, actor="alice", now=now
    )


async def history(session: AsyncSession, token: Token) -> list[TokenHistory]:
    assert token.id is not None
    return await service.history(session, token.id)


# ------------------------------------------------------------------------------------------------ create


async def test_create_with_defaults(session: AsyncSession) -> None:
    token = await create(session)
    assert (token.country_code, token.party_id, token.type) == ("NL", "EMS", "RFID")
    assert token.issuer == "Test eMSP"
    assert token.whitelist == "ALLOWED"
    assert token.contract_id.startswith("NL-EMS-C")
    assert normalise_contract_id(token.contract_id) == token.contract_id
    assert (token.status, token.version, token.last_updated, token.created_at) == ("ACTIVE", 1, T0, T0)
    [entry] = await history(session, token)
    assert (entry.version, entry.actor, entry.action, entry.at) == (1, "alice", "create", T0)
    changes = json.loads(entry.changes)
    assert changes["uid"] == [None, "04A1B2C3D4E5F6"]
    assert changes["status"] == [None, "ACTIVE"]


async def test_create_for_second_party_with_all_fields(session: AsyncSession) -> None:
    token = await create(
        session,
        country_code="be",
        party_id="em2",
        contract_id=_valid_id("BEEM2C12345678"),
        visual_number="BE-EM2-0001",
        issuer="Card Co",
        group_id="FAMILY-1",
        whitelist="ALWAYS",
        language="NL",
        default_profile_type="GREEN",
        energy_contract={"supplier_name": "Green Power", "contract_id": "GP-1"},
        valid_from="2029-01-01T00:00:00Z",
        valid_until="2031-01-01T00:00:00",
    )
    assert (token.country_code, token.party_id, token.language) == ("BE", "EM2", "nl")
    assert token.valid_until == datetime(2031, 1, 1, tzinfo=UTC)
    data = to_ocpi(token, T0)
    OcpiToken.model_validate(data)
    assert data == {
        "country_code": "BE",
        "party_id": "EM2",
        "uid": "04A1B2C3D4E5F6",
        "type": "RFID",
        "contract_id": token.contract_id,
        "visual_number": "BE-EM2-0001",
        "issuer": "Card Co",
        "group_id": "FAMILY-1",
        "valid": True,
        "whitelist": "ALWAYS",
        "language": "nl",
        "default_profile_type": "GREEN",
        "energy_contract": {"supplier_name": "Green Power", "contract_id": "GP-1"},
        "last_updated": "2030-01-01T12:00:00Z",
    }


def _valid_id(body: str) -> str:
    from emsp.tokens.contract_id import check_digit

    return body + check_digit(body)


async def test_to_ocpi_leaves_out_unset_optional_fields(session: AsyncSession) -> None:
    token = await create(session)
    data = to_ocpi(token, T0)
    assert set(data) == {
        "country_code",
        "party_id",
        "uid",
        "type",
        "contract_id",
        "issuer",
        "valid",
        "whitelist",
        "last_updated",
    }
    assert OcpiToken.model_validate(data).to_json() == data


async def test_app_user_gets_a_generated_uid_and_whitelist_never(session: AsyncSession) -> None:
    token = await service.create_token(
        session, TokenCreate(type="APP_USER"), parties=PARTIES, actor="alice", now=T0
    )
    assert len(token.uid) == 36
    assert token.whitelist == "NEVER"


async def test_rfid_needs_a_uid(session: AsyncSession) -> None:
    with pytest.raises(InvalidTokenData, match="uid is required"):
        await service.create_token(session, TokenCreate(), parties=PARTIES, actor="a", now=T0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"country_code": "DE", "party_id": "XXX"}, "not one of our parties"),
        ({"contract_id": "NL-EMS-C12345678-0"}, "wrong check digit"),
        ({"contract_id": "garbage"}, "not an eMA-ID"),
        ({"valid_from": "2030-02-01T00:00:00Z", "valid_until": "2030-01-15T00:00:00Z"}, "after valid_from"),
        ({"valid_until": "2029-12-31T00:00:00Z"}, "in the past"),
    ],
)
async def test_bad_input_is_refused(session: AsyncSession, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidTokenData, match=message):
        await create(session, **fields)
    assert (await session.exec(select(Token))).all() == []


async def test_uid_is_unique_per_type_and_party_case_insensitively(session: AsyncSession) -> None:
    await create(session, uid="abc123")
    with pytest.raises(TokenConflict, match="already exists"):
        await create(session, uid="ABC123")
    await create(session, uid="ABC123", type="OTHER")  # another type
    await create(session, uid="ABC123", country_code="BE", party_id="EM2")  # another party


async def test_contract_id_is_unique(session: AsyncSession) -> None:
    first = await create(session, uid="one")
    with pytest.raises(TokenConflict, match="contract_id"):
        await create(session, uid="two", contract_id=first.contract_id.replace("-", "").lower())


# -------------------------------------------------------------------------------------------------- edit


async def test_edit_bumps_version_and_records_changes(session: AsyncSession) -> None:
    token = await create(session, visual_number="V1")
    later = T0 + timedelta(minutes=5)
    edited = await service.edit_token(
        session,
        token,
        TokenEdit.model_validate({"visual_number": "V2", "group_id": "G", "whitelist": "NEVER"}),
        actor="bob",
        now=later,
    )
    assert (edited.version, edited.last_updated, edited.visual_number) == (2, later, "V2")
    entry = (await history(session, token))[-1]
    assert (entry.version, entry.actor, entry.action) == (2, "bob", "edit")
    assert json.loads(entry.changes) == {
        "visual_number": ["V1", "V2"],
        "group_id": [None, "G"],
        "whitelist": ["ALLOWED", "NEVER"],
    }


async def test_edit_without_change_does_not_bump(session: AsyncSession) -> None:
    token = await create(session, visual_number="V1")
    same = await service.edit_token(
        session, token, TokenEdit(visual_number="V1"), actor="bob", now=T0 + timedelta(hours=1)
    )
    assert (same.version, same.last_updated) == (1, T0)
    assert len(await history(session, token)) == 1


async def test_edit_clears_optional_fields_but_not_required_ones(session: AsyncSession) -> None:
    token = await create(session, visual_number="V1", energy_contract={"supplier_name": "S"})
    edited = await service.edit_token(
        session, token, TokenEdit.model_validate({"visual_number": None, "energy_contract": None}), actor="b"
    )
    assert edited.visual_number is None and edited.energy_contract_supplier_name is None
    with pytest.raises(InvalidTokenData, match="issuer cannot be cleared"):
        await service.edit_token(session, token, TokenEdit.model_validate({"issuer": None}), actor="b")


async def test_edit_to_a_used_contract_id_conflicts(session: AsyncSession) -> None:
    first = await create(session, uid="one")
    second = await create(session, uid="two")
    with pytest.raises(TokenConflict, match="contract_id"):
        await service.edit_token(session, second, TokenEdit(contract_id=first.contract_id), actor="b")


async def test_last_updated_never_goes_backwards(session: AsyncSession) -> None:
    token = await create(session)
    edited = await service.edit_token(
        session, token, TokenEdit(group_id="G"), actor="b", now=T0 - timedelta(hours=1)
    )
    assert edited.last_updated == T0 + timedelta(milliseconds=1)


# ------------------------------------------------------------------------------------------- transitions


async def test_block_and_unblock(session: AsyncSession) -> None:
    token = await create(session)
    blocked = await service.block_token(
        session, token, BlockRequest(reason="lost card"), actor="carol", now=T0 + timedelta(seconds=1)
    )
    assert (blocked.status, blocked.block_reason, blocked.version) == ("BLOCKED", "lost card", 2)
    assert not is_valid(blocked, T0)
    with pytest.raises(TokenConflict, match="already blocked"):
        await service.block_token(session, token, BlockRequest(reason="again"), actor="carol")
    unblocked = await service.unblock_token(session, token, actor="dave", now=T0 + timedelta(seconds=2))
    assert (unblocked.status, unblocked.block_reason, unblocked.version) == ("ACTIVE", None, 3)
    assert is_valid(unblocked, T0)
    with pytest.raises(TokenConflict, match="not blocked"):
        await service.unblock_token(session, token, actor="dave")
    actions = [(e.version, e.actor, e.action) for e in await history(session, token)]
    assert actions == [(1, "alice", "create"), (2, "carol", "block"), (3, "dave", "unblock")]


async def test_unblock_after_validity_ended_gives_expired(session: AsyncSession) -> None:
    token = await create(session, valid_until="2030-01-02T00:00:00Z")
    await service.block_token(session, token, BlockRequest(reason="x"), actor="a", now=T0)
    unblocked = await service.unblock_token(session, token, actor="a", now=T0 + timedelta(days=2))
    assert unblocked.status == TokenStatus.EXPIRED


async def test_deactivate_is_final(session: AsyncSession) -> None:
    token = await create(session)
    done = await service.deactivate_token(
        session, token, DeactivateRequest(reason="contract ended"), actor="erin", now=T0
    )
    assert (done.status, done.version) == ("INACTIVE", 2)
    assert to_ocpi(done, T0)["valid"] is False
    entry = (await history(session, token))[-1]
    assert entry.action == "deactivate"
    assert json.loads(entry.changes)["reason"] == [None, "contract ended"]
    for attempt in (
        service.edit_token(session, token, TokenEdit(group_id="G"), actor="x"),
        service.block_token(session, token, BlockRequest(reason="r"), actor="x"),
        service.unblock_token(session, token, actor="x"),
        service.deactivate_token(session, token, actor="x"),
    ):
        with pytest.raises(TokenConflict, match="deactivated"):
            await attempt
    assert (await service.get_token(session, done.id or 0)).version == 2


# --------------------------------------------------------------------------------------------- validity


async def test_expire_due_marks_passed_tokens_expired_once(session: AsyncSession) -> None:
    due = await create(session, uid="due", valid_until="2030-01-01T13:00:00Z")
    later = await create(session, uid="later", valid_until="2030-06-01T00:00:00Z")
    forever = await create(session, uid="forever")
    now = T0 + timedelta(hours=2)
    assert await expire_due(session, now) == 1
    assert (due.status, due.version, due.last_updated) == ("EXPIRED", 2, now)
    assert (later.status, forever.status) == ("ACTIVE", "ACTIVE")
    entry = (await history(session, due))[-1]
    assert (entry.actor, entry.action, json.loads(entry.changes)) == (
        "system",
        "expire",
        {"status": ["ACTIVE", "EXPIRED"]},
    )
    assert await expire_due(session, now) == 0


async def test_editing_an_expired_token_to_a_later_end_reactivates_it(session: AsyncSession) -> None:
    token = await create(session, valid_until="2030-01-01T13:00:00Z")
    await expire_due(session, T0 + timedelta(hours=2))
    edited = await service.edit_token(
        session,
        token,
        TokenEdit.model_validate({"valid_until": "2031-01-01T00:00:00Z"}),
        actor="a",
        now=T0 + timedelta(hours=3),
    )
    assert edited.status == "ACTIVE" and is_valid(edited, T0 + timedelta(hours=3))


async def test_start_due_republishes_when_valid_from_arrives(session: AsyncSession) -> None:
    token = await create(session, valid_from="2030-01-02T00:00:00Z")
    assert to_ocpi(token, T0)["valid"] is False
    assert await start_due(session, T0 + timedelta(hours=1)) == 0
    start = T0 + timedelta(days=1, minutes=1)
    assert await start_due(session, start) == 1
    assert (token.version, token.last_updated) == (2, start)
    assert to_ocpi(token, start)["valid"] is True
    assert (await history(session, token))[-1].action == "validity_start"
    assert await start_due(session, start + timedelta(hours=1)) == 0


# ---------------------------------------------------------------------------------------------- lookups


async def test_find_token_by_id_or_uid(session: AsyncSession) -> None:
    rfid = await create(session, uid="CafeBabe")
    assert (await service.find_token(session, str(rfid.id))).id == rfid.id
    assert (await service.find_token(session, "cafebabe")).id == rfid.id
    assert (await service.find_token(session, "uid:CAFEBABE")).id == rfid.id
    await create(session, uid="cafebabe", type="OTHER")
    with pytest.raises(TokenConflict, match="several tokens"):
        await service.find_token(session, "cafebabe")
    assert (await service.find_token(session, "cafebabe", "RFID")).id == rfid.id
    with pytest.raises(TokenNotFound):
        await service.find_token(session, "nope")


async def test_the_scheduled_job_runs_both_validity_functions(
    sessionmaker: SessionMaker, session: AsyncSession
) -> None:
    from types import SimpleNamespace

    from emsp.scheduler import registered_jobs
    from emsp.tokens.validity import validity_job

    assert ("tokens.validity", validity_job, {"seconds": 60}) in registered_jobs()
    past = datetime(2020, 1, 1, tzinfo=UTC)
    token = await create(session, now=past, uid="old", valid_until="2021-01-01T00:00:00Z")
    await session.commit()
    await validity_job(SimpleNamespace(sessionmaker=sessionmaker))  # type: ignore[arg-type]
    async with sessionmaker() as other:
        assert (await service.get_token(other, token.id or 0)).status == "EXPIRED"
