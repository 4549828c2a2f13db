"""`emsp partners ...`: partner registrations from the command line, the same use cases as the admin API
(`emsp.registration`), on the database and settings of `EMSP_*` / `.env`. Every command takes `--json`.
No output carries a token except `invite`, which prints the new token A once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer

from emsp import registration
from emsp.cli.common import fail, print_json, print_table, run_with_node, typer_echo
from emsp.node import Node
from ocpi.errors import InvalidParameters
from partners.errors import HandshakeFailure, RegistryError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Partner registrations")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
PartnerRef = Annotated[str, typer.Argument(help="Partner id or name")]


def _run(use_case: Callable[[Node], Awaitable[Any]]) -> Any:
    """Run a use case on a node built from the settings; its errors become a message and exit code 1."""
    try:
        return run_with_node(use_case)
    except RegistryError as exc:
        fail(exc.message)
    except InvalidParameters as exc:
        fail(exc.status_message)
    except HandshakeFailure as exc:
        seen = f" (partner HTTP {exc.partner_http_status}, OCPI {exc.partner_ocpi_status})"
        fail(exc.status_message + (seen if exc.partner_http_status is not None else ""))


def _show(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(view)
        return
    for key in ("id", "name", "status", "status_reason", "version", "versions_url", "registered_at"):
        typer_echo(f"{key:>14}: {'' if view[key] is None else view[key]}")
    if view["roles"]:
        roles = [(r["role"], r["country_code"], r["party_id"], r["name"]) for r in view["roles"]]
        print_table("Roles", ["role", "country", "party", "name"], roles)
    if view.get("endpoints"):
        endpoints = [(e["identifier"], e["role"], e["url"]) for e in view["endpoints"]]
        print_table("Endpoints", ["module", "role", "url"], endpoints)


@app.command()
def invite(
    name: Annotated[str, typer.Argument(help="A unique name for the partner")],
    raw_token: Annotated[bool, typer.Option("--raw-token", help="Send our token to it unencoded")] = False,
    as_json: AsJson = False,
) -> None:
    """Invite a partner: prints our versions URL and its token A (shown only now)."""
    result = _run(lambda node: registration.invite(node, name, raw_token=raw_token))
    if as_json:
        print_json(result)
        return
    typer_echo(f"Partner {result['partner']['name']!r} (id {result['partner']['id']}) is PLANNED.")
    typer_echo("Give it, out of band:")
    typer_echo(f"  versions URL: {result['versions_url']}")
    typer_echo(f"  token A:      {result['token_a']}")


@app.command()
def register(
    versions_url: Annotated[str, typer.Option("--versions-url", help="The partner's versions URL")],
    token: Annotated[str, typer.Option("--token", help="The token A the partner gave us")],
    name: Annotated[str | None, typer.Option("--name", help="Default: host[:port] of the URL")] = None,
    raw_token: Annotated[bool, typer.Option("--raw-token", help="Send tokens to it unencoded")] = False,
    as_json: AsJson = False,
) -> None:
    """Register toward a partner (we POST our credentials to it)."""
    view = _run(
        lambda node: registration.register(
            node, versions_url=versions_url, token=token, name=name, raw_token=raw_token
        )
    )
    _show(view, as_json)


@app.command("list")
def list_partners(as_json: AsJson = False) -> None:
    """Every partner with its state and roles."""
    views = _run(registration.list_all)
    if as_json:
        print_json(views)
        return
    rows = [
        (
            v["id"],
            v["name"],
            v["status"],
            v["version"],
            " ".join(f"{r['role']}:{r['country_code']}-{r['party_id']}" for r in v["roles"]),
            v["registered_at"],
        )
        for v in views
    ]
    print_table("Partners", ["id", "name", "status", "version", "roles", "registered"], rows)


@app.command()
def show(partner: PartnerRef, as_json: AsJson = False) -> None:
    """One partner: state, timestamps, roles and endpoints."""
    _show(_run(lambda node: registration.show(node, partner)), as_json)


@app.command()
def suspend(
    partner: PartnerRef,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the partner)")] = None,
    as_json: AsJson = False,
) -> None:
    """Stop accepting its functional calls (its credentials stay)."""
    _show(_run(lambda node: registration.suspend(node, partner, reason)), as_json)


@app.command()
def resume(partner: PartnerRef, as_json: AsJson = False) -> None:
    """Lift a suspension."""
    _show(_run(lambda node: registration.resume(node, partner)), as_json)


@app.command()
def rotate(partner: PartnerRef, as_json: AsJson = False) -> None:
    """Update the credentials toward the partner (PUT): new tokens both ways."""
    _show(_run(lambda node: registration.rotate(node, partner)), as_json)


@app.command()
def unregister(partner: PartnerRef, as_json: AsJson = False) -> None:
    """Tell the partner (DELETE) if we can, then end both directions."""
    result = _run(lambda node: registration.unregister(node, partner))
    if as_json:
        print_json(result)
        return
    _show(result["partner"], as_json=False)
    if result["partner_notified"]:
        typer_echo("The partner was notified (DELETE credentials).")
    else:
        typer_echo(f"The partner was not notified: {result['partner_error']}")
