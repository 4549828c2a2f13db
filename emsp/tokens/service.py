"""Token changes: create, edit, block, unblock, deactivate, credit hold and release (validity jobs are in
`emsp.tokens.validity`).

Every change, in the caller's transaction: sets `last_updated`, adds 1 to `version`, writes a
`TokenHistory` row and calls `emsp.distribution.ledger.mark_token_changed`. Functions only `flush()`.

Rules:
- `(uid, type)` is unique per issuing party (uid compared case-insensitively); `contract_id` is unique.
- INACTIVE (deactivated) is final: no edit, block, unblock or reactivation.
- BLOCKED needs a reason; unblock returns the token to ACTIVE (or EXPIRED when `valid_until` has passed).
- EXPIRED is set when `valid_until` passes; an edit that moves `valid_until` to the future (or clears it)
  makes the token ACTIVE again.
- A credit hold needs a reason and is independent of the status (a token may be BLOCKED and held); see
  `hold_credit`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, insert
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.db import autoflush
from emsp.distribution import ledger
from emsp.tokens.contract_id import InvalidContractId, new_contract_id, normalise_contract_id
from emsp.tokens.errors import InvalidTokenData, TokenConflict, TokenNotFound
from emsp.tokens.schemas import (
    BlockRequest,
    CreditHoldRequest,
    CreditReleaseRequest,
    DeactivateRequest,
    LocationRule,
    TokenCreate,
    TokenEdit,
)
from emsp.tokens.tables import Token, TokenAction, TokenHistory, TokenStatus
from ocpi.models.tokens import TokenType, WhitelistType
from ocpi.types import format_datetime, utcnow

_REQUIRED_ON_EDIT = ("contract_id", "issuer", "whitelist")


class Party(Protocol):
    """One of our own parties (settings.parties)."""

    country_code: str
    party_id: str
    name: str


def precise_now(now: datetime | None = None) -> datetime:
    """`now` truncated to milliseconds, the precision OCPI DateTimes are written with."""
    now = now or utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# ---------------------------------------------------------------------------------------------- lookups


async def get_token(session: AsyncSession, token_id: int) -> Token:
    token = await session.get(Token, token_id)
    if token is None:
        raise TokenNotFound(f"no token with id {token_id}")
    return token


async def find_token(session: AsyncSession, ref: str, token_type: str | None = None) -> Token:
    """A token by id or by uid. `ref` made of digits is an id first, then a uid; `uid:<uid>` is always a
    uid. Several tokens with that uid (other types or parties) and no `token_type` → `TokenConflict`."""
    ref = ref.strip()
    if ref.lower().startswith("uid:"):
        ref = ref[4:]
    elif ref.isascii() and ref.isdigit() and len(ref) < 19:
        token = await session.get(Token, int(ref))
        if token is not None and (token_type is None or token.type == token_type):
            return token
    stmt = select(Token).where(col(Token.uid_norm) == ref.lower())
    if token_type is not None:
        stmt = stmt.where(col(Token.type) == token_type)
    found = list((await session.exec(stmt.order_by(col(Token.id)).limit(10))).all())
    if not found:
        raise TokenNotFound(f"no token with id or uid {ref!r}")
    if len(found) > 1:
        kinds = ", ".join(f"{t.country_code}-{t.party_id} {t.type} (id {t.id})" for t in found)
        raise TokenConflict(f"several tokens have uid {ref!r}: {kinds}; give the type or the id")
    return found[0]


async def _lock(session: AsyncSession, token: Token) -> Token:
    """The token re-read and locked for update (PostgreSQL; SQLite serialises writers anyway)."""
    stmt = (
        select(Token)
        .where(col(Token.id) == token.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(stmt)).one()


async def history(session: AsyncSession, token_id: int) -> list[TokenHistory]:
    stmt = select(TokenHistory).where(col(TokenHistory.token_id) == token_id)
    return list((await session.exec(stmt.order_by(col(TokenHistory.version)))).all())


# ---------------------------------------------------------------------------------------------- create


def _party(parties: Sequence[Party], country_code: str | None, party_id: str | None) -> Party:
    if not parties:
        raise InvalidTokenData("no own party is configured (EMSP_PARTIES)")
    if country_code is None and party_id is None:
        return parties[0]
    for party in parties:
        if (country_code or "").upper() == party.country_code.upper() and (
            party_id or ""
        ).upper() == party.party_id.upper():
            return party
    ours = ", ".join(f"{p.country_code}-{p.party_id}" for p in parties)
    raise InvalidTokenData(f"{country_code}-{party_id} is not one of our parties ({ours})")


async def create_token(
    session: AsyncSession,
    data: TokenCreate,
    *,
    parties: Sequence[Party],
    actor: str,
    now: datetime | None = None,
) -> Token:
    now = precise_now(now)
    party = _party(parties, data.country_code, data.party_id)
    uid = data.uid
    if uid is None:
        if data.type == TokenType.RFID:
            raise InvalidTokenData("uid is required for RFID tokens (the card's UID)")
        uid = str(uuid.uuid4())
    values = _field_values(data, set(TokenEdit.model_fields))
    generated = data.contract_id is None  # then a taken one is replaced (`_ensure_unique`)
    if data.contract_id is None:
        values["contract_id"] = _generated_contract_id(party.country_code, party.party_id)
    else:
        values["contract_id"] = _normalised_contract_id(data.contract_id)
    values["issuer"] = data.issuer or party.name[:64]
    values["whitelist"] = str(data.whitelist or _default_whitelist(data.type))
    _check_window(values.get("valid_from"), values.get("valid_until"))
    if values.get("valid_until") is not None and values["valid_until"] <= now:
        raise InvalidTokenData("valid_until is in the past")
    token = Token(
        country_code=party.country_code.upper(),
        party_id=party.party_id.upper(),
        uid=uid,
        uid_norm=uid.lower(),
        type=str(data.type),
        status=TokenStatus.ACTIVE,
        version=1,
        last_updated=now,
        created_at=now,
        **values,
    )
    await autoflush(session)  # the caller's pending changes first, as an ORM query would
    connection = await session.connection()
    await _insert(session, connection, token, generated=generated)
    changes = {k: [None, _jsonable(v)] for k, v in _snapshot(token).items() if v is not None}
    await _record(session, token, actor, TokenAction.CREATE, changes, now, connection=connection)
    return token


def _default_whitelist(token_type: TokenType) -> WhitelistType:
    if token_type in (TokenType.APP_USER, TokenType.AD_HOC_USER):
        return WhitelistType.NEVER
    return WhitelistType.ALLOWED


def _normalised_contract_id(given: str) -> str:
    try:
        return normalise_contract_id(given)
    except InvalidContractId as exc:
        raise InvalidTokenData(str(exc)) from exc


def _generated_contract_id(country_code: str, party_id: str) -> str:
    """A random contract id (whether it is free is `_ensure_unique`'s check)."""
    try:
        return new_contract_id(country_code, party_id)
    except InvalidContractId as exc:
        raise InvalidTokenData(f"{exc}: give a contract_id") from exc


# ------------------------------------------------------------------------------------------------ edit


async def edit_token(
    session: AsyncSession, token: Token, data: TokenEdit, *, actor: str, now: datetime | None = None
) -> Token:
    now = precise_now(now)
    token = await _lock(session, token)
    _refuse_if_inactive(token, "edited")
    requested = data.changed()
    for name in _REQUIRED_ON_EDIT:
        if name in requested and requested[name] is None:
            raise InvalidTokenData(f"{name} cannot be cleared")
    values = _field_values(data, set(requested))
    if "contract_id" in values:
        values["contract_id"] = _normalised_contract_id(values["contract_id"])
        if values["contract_id"] != token.contract_id:
            await _ensure_contract_id_free(session, values["contract_id"], token.id)
    new_from = values.get("valid_from", token.valid_from)
    new_until = values.get("valid_until", token.valid_until)
    _check_window(new_from, new_until)
    if token.status == TokenStatus.EXPIRED and (new_until is None or new_until > now):
        values["status"] = TokenStatus.ACTIVE
    elif token.status == TokenStatus.ACTIVE and new_until is not None and new_until <= now:
        values["status"] = TokenStatus.EXPIRED
    changes = apply_changes(token, values)
    if not changes:
        return token
    await record_change(session, token, actor, TokenAction.EDIT, changes, now)
    return token


# ----------------------------------------------------------------------------------------- transitions


async def block_token(
    session: AsyncSession, token: Token, data: BlockRequest, *, actor: str, now: datetime | None = None
) -> Token:
    token = await _lock(session, token)
    _refuse_if_inactive(token, "blocked")
    if token.status == TokenStatus.BLOCKED:
        raise TokenConflict("token is already blocked")
    changes = apply_changes(token, {"status": TokenStatus.BLOCKED, "block_reason": data.reason})
    await record_change(session, token, actor, TokenAction.BLOCK, changes, precise_now(now))
    return token


async def unblock_token(
    session: AsyncSession, token: Token, *, actor: str, now: datetime | None = None
) -> Token:
    now = precise_now(now)
    token = await _lock(session, token)
    _refuse_if_inactive(token, "unblocked")
    if token.status != TokenStatus.BLOCKED:
        raise TokenConflict(f"token is not blocked (status {token.status})")
    expired = token.valid_until is not None and token.valid_until <= now
    status = TokenStatus.EXPIRED if expired else TokenStatus.ACTIVE
    changes = apply_changes(token, {"status": status, "block_reason": None})
    await record_change(session, token, actor, TokenAction.UNBLOCK, changes, now)
    return token


async def deactivate_token(
    session: AsyncSession,
    token: Token,
    data: DeactivateRequest | None = None,
    *,
    actor: str,
    now: datetime | None = None,
) -> Token:
    """Deactivate for good (INACTIVE, valid=false). Tokens are never deleted (spec 12.1.1)."""
    token = await _lock(session, token)
    _refuse_if_inactive(token, "deactivated again")
    changes = apply_changes(token, {"status": TokenStatus.INACTIVE, "block_reason": None})
    if data is not None and data.reason:
        changes["reason"] = [None, data.reason]
    await record_change(session, token, actor, TokenAction.DEACTIVATE, changes, precise_now(now))
    return token


async def hold_credit(
    session: AsyncSession, token: Token, data: CreditHoldRequest, *, actor: str, now: datetime | None = None
) -> Token:
    """Put the token on credit hold (finance: the account has no credit). Real-time authorization then
    answers NO_CREDIT, unless the token is BLOCKED, EXPIRED or otherwise not valid, which answer first
    (`emsp.tokens.authorize`).

    What CPOs receive does not change: the OCPI Token has no credit field, and `valid` stays true. The
    spec keeps the two apart: `valid` is the token's own state, NO_CREDIT (mod_tokens "Allowed") is about
    the account it belongs to, and is answered only by real-time authorization. Sending `valid=false`
    would make a CPO refuse the card from its whitelist as if it were blocked, without NO_CREDIT's message
    to the driver, and the hold would outlive its release wherever a partner kept the stale copy. So a hold
    only acts where the CPO asks in real time (whitelist NEVER, or ALLOWED / ALLOWED_OFFLINE when it
    chooses to ask); to stop a card everywhere, block it. Like every change it is a new version (history,
    `last_updated`), so partners get the same Token again with the new `last_updated`."""
    token = await _lock(session, token)
    _refuse_if_inactive(token, "put on credit hold")
    if token.credit_hold:
        raise TokenConflict("token is already on credit hold")
    changes = apply_changes(token, {"credit_hold": True, "credit_hold_reason": data.reason})
    await record_change(session, token, actor, TokenAction.CREDIT_HOLD, changes, precise_now(now))
    return token


async def release_credit(
    session: AsyncSession,
    token: Token,
    data: CreditReleaseRequest | None = None,
    *,
    actor: str,
    now: datetime | None = None,
) -> Token:
    """End the credit hold; an optional reason is kept in the history."""
    token = await _lock(session, token)
    _refuse_if_inactive(token, "released from credit hold")
    if not token.credit_hold:
        raise TokenConflict("token is not on credit hold")
    changes = apply_changes(token, {"credit_hold": False, "credit_hold_reason": None})
    if data is not None and data.reason:
        changes["reason"] = [None, data.reason]
    await record_change(session, token, actor, TokenAction.CREDIT_RELEASE, changes, precise_now(now))
    return token


def _refuse_if_inactive(token: Token, what: str) -> None:
    if token.status == TokenStatus.INACTIVE:
        raise TokenConflict(f"token {token.id} is deactivated (INACTIVE) and cannot be {what}")


# ------------------------------------------------------------------------------------------ internals


def _field_values(data: TokenCreate | TokenEdit, names: set[str]) -> dict[str, Any]:
    """Column values for the schema fields in `names` (enums as strings, nested objects flattened)."""
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(data, name, None)
        if name in ("country_code", "party_id", "uid", "type"):
            continue
        if name == "energy_contract":
            values["energy_contract_supplier_name"] = value.supplier_name if value else None
            values["energy_contract_id"] = value.contract_id if value else None
        elif name == "allowed_locations":
            values[name] = _rules_json(value)
        elif name in ("whitelist", "default_profile_type"):
            values[name] = None if value is None else str(value)
        else:
            values[name] = value
    return values


def _rules_json(rules: list[LocationRule] | None) -> str | None:
    if rules is None:
        return None
    return json.dumps([rule.model_dump(exclude_none=True) for rule in rules], separators=(",", ":"))


def _check_window(valid_from: datetime | None, valid_until: datetime | None) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise InvalidTokenData("valid_until must be after valid_from")


async def _ensure_contract_id_free(session: AsyncSession, contract_id: str, token_id: int | None) -> None:
    stmt = select(Token.id).where(col(Token.contract_id) == contract_id, col(Token.id) != token_id)
    other = (await session.exec(stmt.limit(1))).first()
    if other is not None:
        raise TokenConflict(f"contract_id {contract_id} is already used by token {other}")


_TOKENS = Token.__table__  # type: ignore[attr-defined]
_HISTORY = TokenHistory.__table__  # type: ignore[attr-defined]
_TOKEN_COLUMNS = tuple(c.key for c in _TOKENS.columns if c.key != "id")
_CLASHES = (
    core_select(
        _TOKENS.c.id,
        _TOKENS.c.contract_id,
        _TOKENS.c.country_code,
        _TOKENS.c.party_id,
        _TOKENS.c.uid_norm,
        _TOKENS.c.type,
    )
    .where(
        or_(
            and_(
                _TOKENS.c.country_code == bindparam("country_code"),
                _TOKENS.c.party_id == bindparam("party_id"),
                _TOKENS.c.uid_norm == bindparam("uid_norm"),
                _TOKENS.c.type == bindparam("type"),
            ),
            _TOKENS.c.contract_id == bindparam("contract_id"),
        )
    )
    .limit(2)  # one clashing on (party, uid, type), another on contract_id
)
_INSERT_TOKEN = insert(_TOKENS).returning(_TOKENS.c.id)
_INSERT_HISTORY = insert(_HISTORY)
_GENERATE_TRIES = 20


async def _insert(
    session: AsyncSession, connection: AsyncConnection, token: Token, *, generated: bool = False
) -> None:
    """INSERT ... RETURNING id of the new `token` once `_ensure_unique` found its keys free; the token then
    joins the session as a persistent object, as after an ORM flush (without the unit of work)."""
    await _ensure_unique(connection, token, generated=generated)
    row = {name: getattr(token, name) for name in _TOKEN_COLUMNS}
    try:
        token.id = (await connection.execute(_INSERT_TOKEN, row)).scalar_one()
    except IntegrityError as exc:  # a concurrent writer won the race past _ensure_unique
        raise TokenConflict("uid/type or contract_id already in use") from exc
    make_transient_to_detached(token)
    session.add(token)


async def _ensure_unique(connection: AsyncConnection, token: Token, *, generated: bool = False) -> None:
    """Before inserting `token`: no other token with its (party, uid, type) or its contract_id, both in one
    query. A `generated` contract_id that is taken is replaced by another (up to 20 tries)."""
    key = (token.country_code, token.party_id, token.uid_norm, token.type)
    for _ in range(_GENERATE_TRIES):
        params = {
            "country_code": token.country_code,
            "party_id": token.party_id,
            "uid_norm": token.uid_norm,
            "type": token.type,
            "contract_id": token.contract_id,
        }
        others = (await connection.execute(_CLASHES, params)).all()
        if not others:
            return
        same_uid = [o for o in others if (o.country_code, o.party_id, o.uid_norm, o.type) == key]
        if generated and not same_uid:
            token.contract_id = _generated_contract_id(token.country_code, token.party_id)
            continue
        other = same_uid[0] if generated else others[0]  # given: the first token found says which
        if other.contract_id == token.contract_id and not generated:
            raise TokenConflict(f"contract_id {token.contract_id} is already used by token {other.id}")
        raise TokenConflict(
            f"a {token.type} token with uid {token.uid!r} already exists for "
            f"{token.country_code}-{token.party_id} (token {other.id})"
        )
    raise TokenConflict("could not generate a free contract_id")  # pragma: no cover - 36^8 ids


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent writer won the race past _ensure_unique
        raise TokenConflict("uid/type or contract_id already in use") from exc


_TRACKED = (
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "whitelist",
    "language",
    "default_profile_type",
    "energy_contract_supplier_name",
    "energy_contract_id",
    "valid_from",
    "valid_until",
    "status",
    "block_reason",
    "allowed_locations",
)


def _snapshot(token: Token) -> dict[str, Any]:
    base = {"country_code": token.country_code, "party_id": token.party_id, "uid": token.uid}
    base["type"] = token.type
    return base | {name: getattr(token, name) for name in _TRACKED}


def apply_changes(token: Token, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set `values` on the token; the `{field: [old, new]}` of what really changed."""
    changes: dict[str, list[Any]] = {}
    for name, new in values.items():
        old = getattr(token, name)
        if old != new:
            changes[name] = [_jsonable(old), _jsonable(new)]
            setattr(token, name, new)
    return changes


def _jsonable(value: Any) -> Any:
    return format_datetime(value) if isinstance(value, datetime) else value


async def record_change(
    session: AsyncSession,
    token: Token,
    actor: str,
    action: TokenAction,
    changes: dict[str, list[Any]],
    now: datetime,
) -> None:
    """A new version of the token: `last_updated` moves forward (never backwards, even if the clock did)."""
    previous = token.last_updated
    token.last_updated = now if now > previous else previous + timedelta(milliseconds=1)
    token.version += 1
    await _flush(session)
    await _record(session, token, actor, action, changes, now)


async def _record(
    session: AsyncSession,
    token: Token,
    actor: str,
    action: TokenAction,
    changes: dict[str, list[Any]],
    now: datetime,
    *,
    connection: AsyncConnection | None = None,
) -> None:
    """The history row (a Core insert: nothing reads it back) and the ledger marking."""
    assert token.id is not None
    if connection is None:
        connection = await session.connection()
    row = {
        "token_id": token.id,
        "version": token.version,
        "at": now,
        "actor": actor[:100],
        "action": action,
        "changes": json.dumps(changes, default=str, sort_keys=True),
    }
    await connection.execute(_INSERT_HISTORY, row)
    await ledger.mark_token_changed(session, token)
