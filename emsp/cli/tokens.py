"""`emsp tokens ...`: the tokens we issue, from the command line: the same rules as the admin API
(`emsp.tokens.service`), on the database and settings of `EMSP_*` / `.env`. The history records the actor
"cli". Every command takes `--json`. `TOKEN` is a token id or uid (`--type` picks among shared uids)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.cli.common import fail, print_json, print_table, run_in_session, typer_echo
from emsp.errors import AdminError, describe_validation_errors
from emsp.node import Node
from emsp.tokens import service
from emsp.tokens.queries import TokenFilter, list_tokens
from emsp.tokens.schemas import (
    BlockRequest,
    CreditHoldRequest,
    CreditReleaseRequest,
    DeactivateRequest,
    TokenCreate,
)
from emsp.tokens.tables import Token
from emsp.tokens.views import token_details, token_view

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The tokens we issue")

ACTOR = "cli"
DEFAULT_TYPE = "RFID"
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
TokenRef = Annotated[str, typer.Argument(help="Token id or uid")]
TypeOpt = Annotated[
    str | None, typer.Option("--type", help="Token type (RFID, APP_USER, AD_HOC_USER, OTHER)")
]

_SHOWN: tuple[str, ...] = ("id", "country_code", "party_id", "uid", "type", "contract_id", "visual_number")
_SHOWN += ("issuer",)
_SHOWN += ("group_id", "whitelist", "status", "block_reason", "valid", "valid_from", "valid_until")
_SHOWN += ("credit_hold", "credit_hold_reason")
_SHOWN += ("version", "last_updated")


def _run(fn: Callable[[Node, AsyncSession], Awaitable[Any]]) -> Any:
    """One unit of work; rule violations and bad input become a message and exit code 1."""
    try:
        return run_in_session(fn)
    except AdminError as exc:
        fail(exc.message)
    except ValidationError as exc:
        fail(describe_validation_errors(list(exc.errors())))


def _build(model: type[Any], values: dict[str, Any]) -> Any:
    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        fail(describe_validation_errors(list(exc.errors())))


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    for key in _SHOWN:
        typer_echo(f"{key:>14}: {'' if view[key] is None else view[key]}")
    if view.get("history"):
        rows = [(h["version"], h["at"], h["actor"], h["action"], h["changes"]) for h in view["history"]]
        print_table("History", ["version", "at", "actor", "action", "changes"], rows)


def _upper(value: str | None) -> str | None:
    return None if value is None else value.strip().upper()


def _locations(values: list[str] | None) -> list[dict[str, Any]] | None:
    """`LOCATION` or `LOCATION:EVSE1,EVSE2` → allow-list entries."""
    if not values:
        return None
    rules = []
    for value in values:
        location, _, evses = value.partition(":")
        rule: dict[str, Any] = {"location_id": location}
        if evses:
            rule["evse_uids"] = [e for e in evses.split(",") if e]
        rules.append(rule)
    return rules


@app.command()
def create(
    uid: Annotated[str | None, typer.Option("--uid", help="Required for RFID (the card's UID)")] = None,
    token_type: Annotated[
        str, typer.Option("--type", help="RFID, APP_USER, AD_HOC_USER, OTHER")
    ] = DEFAULT_TYPE,
    party: Annotated[
        str | None, typer.Option("--party", help="Issuing party CC-PID (default: first)")
    ] = None,
    contract_id: Annotated[
        str | None, typer.Option("--contract-id", help="eMA-ID; generated if absent")
    ] = None,
    visual_number: Annotated[str | None, typer.Option("--visual-number")] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="Default: the party's name")] = None,
    group_id: Annotated[str | None, typer.Option("--group-id")] = None,
    whitelist: Annotated[str | None, typer.Option("--whitelist", help="ALWAYS, ALLOWED, ...")] = None,
    language: Annotated[str | None, typer.Option("--language", help="ISO 639-1")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="Default profile type")] = None,
    valid_from: Annotated[str | None, typer.Option("--valid-from", help="DateTime, UTC")] = None,
    valid_until: Annotated[str | None, typer.Option("--valid-until", help="DateTime, UTC")] = None,
    energy_supplier: Annotated[str | None, typer.Option("--energy-supplier")] = None,
    energy_contract_id: Annotated[str | None, typer.Option("--energy-contract-id")] = None,
    allowed_location: Annotated[
        list[str] | None,
        typer.Option("--allowed-location", help="LOCATION or LOCATION:EVSE1,EVSE2 (repeatable)"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Issue a new token."""
    country_code = party_id = None
    if party is not None:
        country_code, _, party_id = party.strip().upper().replace("*", "-").partition("-")
    energy = None
    if energy_supplier is not None:
        energy = {"supplier_name": energy_supplier, "contract_id": energy_contract_id}
    data = _build(
        TokenCreate,
        {
            "uid": uid,
            "type": _upper(token_type),
            "country_code": country_code,
            "party_id": party_id,
            "contract_id": contract_id,
            "visual_number": visual_number,
            "issuer": issuer,
            "group_id": group_id,
            "whitelist": _upper(whitelist),
            "language": language,
            "default_profile_type": _upper(profile),
            "valid_from": valid_from,
            "valid_until": valid_until,
            "energy_contract": energy,
            "allowed_locations": _locations(allowed_location),
        },
    )

    async def go(node: Node, session: AsyncSession) -> dict[str, Any]:
        token = await service.create_token(session, data, parties=node.settings.parties, actor=ACTOR)
        return await token_details(session, token)

    _show(_run(go), as_json)


@app.command("list")
def list_(
    token_type: TypeOpt = None,
    status: Annotated[str | None, typer.Option("--status", help="ACTIVE, BLOCKED, INACTIVE, EXPIRED")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Part of the uid or visual number")] = None,
    contract_id: Annotated[str | None, typer.Option("--contract-id")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    as_json: AsJson = False,
) -> None:
    """List tokens (by id), with filters."""
    filters = TokenFilter(type=_upper(token_type), status=_upper(status), q=q, contract_id=contract_id)

    async def go(_node: Node, session: AsyncSession) -> dict[str, Any]:
        total, tokens = await list_tokens(session, filters, offset=offset, limit=limit)
        return {"items": [token_view(t) for t in tokens], "total": total, "offset": offset, "limit": limit}

    result = _run(go)
    if as_json:
        print_json(result)
        return
    columns = ["id", "party", "uid", "type", "contract_id", "status", "valid", "version", "last_updated"]
    rows = [
        [t["id"], f"{t['country_code']}-{t['party_id']}", *(t[c] for c in columns[2:])]
        for t in result["items"]
    ]
    print_table(f"Tokens {offset + 1}-{offset + len(rows)} of {result['total']}", columns, rows)


def _on_token(
    ref: str, token_type: str | None, change: Callable[[AsyncSession, Token], Awaitable[Token]] | None
) -> dict[str, Any]:
    async def go(_node: Node, session: AsyncSession) -> dict[str, Any]:
        token = await service.find_token(session, ref, _upper(token_type))
        if change is not None:
            token = await change(session, token)
        return await token_details(session, token)

    result: dict[str, Any] = _run(go)
    return result


@app.command()
def show(token: TokenRef, token_type: TypeOpt = None, as_json: AsJson = False) -> None:
    """A token with its OCPI form and history."""
    _show(_on_token(token, token_type, None), as_json)


@app.command()
def block(
    token: TokenRef,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the history)")],
    token_type: TypeOpt = None,
    as_json: AsJson = False,
) -> None:
    """Block a token (valid=false until unblocked)."""
    body = _build(BlockRequest, {"reason": reason})
    _show(_on_token(token, token_type, lambda s, t: service.block_token(s, t, body, actor=ACTOR)), as_json)


@app.command()
def unblock(token: TokenRef, token_type: TypeOpt = None, as_json: AsJson = False) -> None:
    """Unblock a blocked token."""
    _show(_on_token(token, token_type, lambda s, t: service.unblock_token(s, t, actor=ACTOR)), as_json)


@app.command()
def deactivate(
    token: TokenRef,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    token_type: TypeOpt = None,
    as_json: AsJson = False,
) -> None:
    """Deactivate a token for good (it can never be used again)."""
    body = _build(DeactivateRequest, {"reason": reason})
    _show(
        _on_token(token, token_type, lambda s, t: service.deactivate_token(s, t, body, actor=ACTOR)),
        as_json,
    )


@app.command("credit-hold")
def credit_hold(
    token: TokenRef,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept on the token and in the history)")],
    token_type: TypeOpt = None,
    as_json: AsJson = False,
) -> None:
    """Put a token on credit hold: real-time authorization answers NO_CREDIT until released."""
    body = _build(CreditHoldRequest, {"reason": reason})
    _show(_on_token(token, token_type, lambda s, t: service.hold_credit(s, t, body, actor=ACTOR)), as_json)


@app.command("credit-release")
def credit_release(
    token: TokenRef,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    token_type: TypeOpt = None,
    as_json: AsJson = False,
) -> None:
    """End a token's credit hold."""
    body = _build(CreditReleaseRequest, {"reason": reason})
    _show(
        _on_token(token, token_type, lambda s, t: service.release_credit(s, t, body, actor=ACTOR)),
        as_json,
    )
