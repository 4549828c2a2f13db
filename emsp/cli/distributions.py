"""`emsp distributions ...`: token distribution per partner, and the operator's retry and reconcile.
Same rules as the admin API (`/admin/v1/distributions`), on the database of `EMSP_*` / `.env`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.cli.common import fail, print_json, print_table, run_in_session, run_with_node, typer_echo
from emsp.errors import AdminError
from emsp.node import Node

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Token distribution to partners")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
PartnerOpt = Annotated[str | None, typer.Option("--partner", help="Partner id or name")]
_COLUMNS = (
    "partner",
    "to party",
    "status",
    "succeeded",
    "failed",
    "pending",
    "paused",
    "last success",
    "last failure",
)


async def _partner_id(session: AsyncSession, ref: str) -> int:
    from partners.errors import PartnerNotFound
    from partners.registry import find_partner

    try:
        partner = await find_partner(session, ref)
    except PartnerNotFound as exc:
        raise AdminError(404, "not_found", exc.message) from None
    assert partner.id is not None
    return partner.id


def _short(when: str | None) -> str | None:
    return None if when is None else when[:19].replace("T", " ")


def _run(fn: Any) -> Any:
    try:
        return run_in_session(fn)
    except AdminError as exc:
        fail(exc.message)


def _party_label(entry: dict[str, Any], line: dict[str, Any]) -> str:
    if line["country_code"] is None:
        return "-"
    party = f"{line['country_code']}-{line['party_id']}"
    if line["broadcast"]:
        return f"{party} (HUB, broadcast)"
    if line["client_status"] is not None:
        return f"{party} via {entry['country_code']}-{entry['party_id']} ({line['client_status']})"
    return f"{party} ({entry['role'] or '?'})"


def _lines(entry: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One line per target party of a partner (a hub: its broadcast, or each party it reports)."""
    status = entry["partner_status"]
    lines = entry["parties"] or [{**entry, "broadcast": False, "client_status": None}]
    return [
        (
            entry["partner"],
            _party_label(entry, line),
            status + (f", paused: {line['pause_reason']}" if line["pause_reason"] else ""),
            line["succeeded"],
            line["failed"],
            line["pending"],
            line["paused"],
            _short(line["last_success_at"]),
            _short(line["last_failure_at"]),
        )
        for line in lines
    ]


@app.command()
def status(partner: PartnerOpt = None, as_json: AsJson = False) -> None:
    """Per partner and target party (a hub: each party behind it): succeeded / failed / pending / paused
    counts, pause reason (NOT_CONNECTED: the hub does not report the party CONNECTED), last outcomes."""
    from emsp.distribution.queries import partner_summaries

    async def _go(_node: Node, session: AsyncSession) -> list[dict[str, Any]]:
        partner_id = None if partner is None else await _partner_id(session, partner)
        return await partner_summaries(session, partner_id)

    rows = _run(_go)
    if as_json:
        print_json({"partners": rows})
        return
    print_table("Token distribution", _COLUMNS, [line for r in rows for line in _lines(r)])


@app.command()
def retry(
    partner: PartnerOpt = None,
    token: Annotated[str | None, typer.Option("--token", help="Token id or uid")] = None,
    token_type: Annotated[str | None, typer.Option("--type", help="Token type, when a uid is shared")] = None,
    as_json: AsJson = False,
) -> None:
    """Send FAILED rows again (all, one partner's for all its parties, or one token's): PENDING now."""
    from emsp.distribution.ledger import retry_failed
    from emsp.tokens import service

    async def _go(_node: Node, session: AsyncSession) -> dict[str, Any]:
        partner_id = None if partner is None else await _partner_id(session, partner)
        token_id = None
        if token is not None:
            token_id = (await service.find_token(session, token, token_type)).id
        retried = await retry_failed(
            session,
            partner_ids=None if partner_id is None else [partner_id],
            token_ids=None if token_id is None else [int(token_id)],
        )
        return {"retried": retried, "scope": {"partner_id": partner_id, "token_id": token_id}}

    result = _run(_go)
    if as_json:
        print_json(result)
    else:
        typer_echo(f"{result['retried']} failed deliveries marked for retry")


@app.command()
def reconcile(
    partner: Annotated[str, typer.Option("--partner", help="Partner id or name")],
    sample: Annotated[int | None, typer.Option("--sample", min=1, help="How many (default: setting)")] = None,
    all_rows: Annotated[bool, typer.Option("--all", help="Check every delivered token")] = False,
    as_json: AsJson = False,
) -> None:
    """GET the partner's copies of delivered tokens back; those that differ or are missing are re-sent."""
    from emsp.distribution.reconcile import reconcile_partner

    async def _go(node: Node) -> dict[str, Any]:
        async with node.sessionmaker() as session:
            partner_id = await _partner_id(session, partner)
        size = None if all_rows else (sample or node.settings.distribution_reconcile_sample)
        report = await reconcile_partner(node.sessionmaker, node.http, partner_id, sample=size)
        return report.as_dict()

    try:
        result = run_with_node(_go)
    except AdminError as exc:
        fail(exc.message)
        return
    if as_json:
        print_json(result)
    else:
        typer_echo(", ".join(f"{k}: {v}" for k, v in result.items()))
