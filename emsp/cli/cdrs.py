"""`emsp cdrs ...`: CPO CDRs from the command line.

- `price --tariff FILE --cdr FILE [--time-zone ZONE]`: price an OCPI CDR under an OCPI Tariff (no database),
  printing `cdr_pricing.price_cdr_json` as JSON: `total_cost`, `total_energy_cost`, `total_time_cost`,
  `total_parking_cost`, `total_fixed_cost`, `total_reservation_cost`, each `{"excl_vat", "incl_vat"}` (decimal
  strings) or null. A file may hold the bare object or an OCPI envelope (`data`).
- `show ID`, `mismatches`: a stored CDR with its verification; the CDRs the CPO billed differently.
- `reprice ID`, `retry-failed`: verify and price again (a new MSP CDR revision only when the result changed).
- `pull [PARTNER] [--full]`: pull CDRs now from the CDRs SENDER of one partner (name or id) or of every
  partner offering it (`emsp.ingest.sync`), then verify and price what arrived.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.billing.queries import msp_cdr_view
from emsp.billing.tables import MspCdr
from emsp.cdrs.pipeline import reprice, retry_failed_pricing
from emsp.cdrs.queries import cdr_view, list_checked, verification_view
from emsp.cdrs.tables import CpoCdr
from emsp.cli.common import fail, print_json, print_table, run_in_session
from emsp.node import Node
from emsp.ocpi_api.cdrs import policy_of

app = typer.Typer(no_args_is_help=True, add_completion=False, help="CPO CDRs: price, verify, reprice")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"cannot read the {what} file {path}: {exc}")
    if isinstance(data, dict) and isinstance(data.get("data"), dict) and "status_code" in data:
        data = data["data"]
    if not isinstance(data, dict):
        fail(f"the {what} file must hold one JSON object")
    return data  # type: ignore[no-any-return]


@app.command()
def price(
    tariff: Annotated[Path, typer.Option("--tariff", help="OCPI Tariff JSON file")],
    cdr: Annotated[Path, typer.Option("--cdr", help="OCPI CDR JSON file")],
    time_zone: Annotated[str | None, typer.Option("--time-zone", help="IANA zone of the Location")] = None,
) -> None:
    """Price a CDR under a Tariff and print the totals as JSON (exit 1 with the reason if it cannot).

    Without --time-zone, UTC is used when the tariff has no local-time restriction (it cannot matter)."""
    from cdr_pricing import PricingError, price_cdr_json, tariff_from_ocpi
    from emsp.cdrs.verify import zone_for

    tariff_data, cdr_data = _load(tariff, "tariff"), _load(cdr, "CDR")
    try:
        result = price_cdr_json(tariff_data, cdr_data, zone_for(tariff_from_ocpi(tariff_data), time_zone))
    except PricingError as exc:
        fail(f"{type(exc).__name__}: {exc}")
    print_json(result)


async def _stored(session: AsyncSession, cdr_id: int) -> CpoCdr:
    row = await session.get(CpoCdr, cdr_id)
    if row is None:
        fail(f"no CDR {cdr_id}")
    assert row is not None
    return row


@app.command()
def show(cdr_id: int, as_json: AsJson = False) -> None:
    """A stored CPO CDR, its verification (received vs calculated per component)."""

    async def go(_node: Node, session: AsyncSession) -> dict[str, Any]:
        row = await _stored(session, cdr_id)
        return {
            "cpo_cdr": cdr_view(row, with_body=as_json),
            "verification": await verification_view(session, cdr_id),
        }

    view = run_in_session(go)
    if as_json:
        print_json(view)
        return
    for key, value in view["cpo_cdr"].items():
        typer.echo(f"{key:>22}: {'' if value is None else value}")
    check = view["verification"] or {}
    typer.echo(f"{'verification':>22}: {check.get('status')} {check.get('reason') or ''}")
    rows = [
        (
            c["component"],
            c["received_excl_vat"],
            c["calculated_excl_vat"],
            c["difference_excl_vat"],
            c["mismatch"],
        )
        for c in check.get("components", [])
    ]
    print_table(
        "Received vs calculated (excl. VAT)",
        ["component", "received", "calculated", "diff", "mismatch"],
        rows,
    )


@app.command()
def mismatches(
    status: Annotated[str, typer.Option(help="MISMATCH, NO_PRICE or MATCH")] = "MISMATCH",
    limit: int = 100,
    as_json: AsJson = False,
) -> None:
    """CPO CDRs whose billing differs from our recomputation."""

    async def go(_node: Node, session: AsyncSession) -> tuple[int, list[dict[str, Any]]]:
        return await list_checked(
            session,
            status=status.upper(),
            date_from=None,
            date_to=None,
            country_code=None,
            party_id=None,
            offset=0,
            limit=limit,
        )

    total, items = run_in_session(go)
    if as_json:
        print_json({"total": total, "items": items})
        return
    rows = [
        (i["id"], f"{i['country_code']}/{i['party_id']}/{i['cdr_id']}", i["start_date_time"], i["currency"],
         i["total_cost_excl_vat"], i["verification"]["max_difference"], i["verification"]["reason"])
        for i in items
    ]  # fmt: skip
    print_table(
        f"{status.upper()}: {total}", ["id", "cdr", "start", "cur", "billed", "max diff", "reason"], rows
    )


@app.command("reprice")
def reprice_command(cdr_id: int, as_json: AsJson = False) -> None:
    """Verify and price a stored CDR again (a new MSP CDR revision only if the result changed)."""

    async def go(node: Node, session: AsyncSession) -> dict[str, Any]:
        current = await reprice(session, await _stored(session, cdr_id), policy_of(node.settings))
        msp = await session.get(MspCdr, current.id)
        assert msp is not None
        return msp_cdr_view(msp)

    view = run_in_session(go)
    if as_json:
        print_json(view)
        return
    typer.echo(
        f"MSP CDR {view['id']} revision {view['revision']}: {view['status']} "
        f"{view['total_incl_vat'] or ''} {view['currency']} {view['failure_reason'] or ''}".rstrip()
    )


@app.command("retry-failed")
def retry_failed(limit: int = 1000) -> None:
    """Price the CDRs not priced yet (pulled ones) and again those whose pricing failed (what the periodic
    job does)."""
    from emsp.cdrs.pull import price_unpriced

    async def go(node: Node, session: AsyncSession) -> tuple[int, int]:
        policy = policy_of(node.settings)
        fresh = await price_unpriced(session, policy, limit=limit)
        return fresh, await retry_failed_pricing(session, policy, limit=limit)

    fresh, retried = run_in_session(go)
    typer.echo(f"priced: {fresh} not priced before, {retried} whose pricing had failed")


@app.command()
def pull(
    partner: Annotated[str | None, typer.Argument(help="Partner name or id (default: every CPO)")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="From the beginning, not from the last checkpoint")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Pull CDRs from CPOs' CDRs SENDER endpoints, then verify and price the new ones."""
    from emsp.cdrs.pull import MODULE, price_unpriced
    from emsp.ingest.jobs import sync_now

    async def go(node: Node, session: AsyncSession) -> dict[str, Any]:
        outcomes = await sync_now(session, node.http, node.settings, MODULE, partner_ref=partner, full=full)
        priced = await price_unpriced(session, policy_of(node.settings), limit=1_000_000)
        return {"pulls": [o.to_json() for o in outcomes], "priced": priced}

    result = run_in_session(go)
    if as_json:
        print_json(result)
        return
    rows = [
        (o["partner"], o["status"], o["pages"], o["items"], o["rejected"], o["message"] or "")
        for o in result["pulls"]
    ]
    print_table("CDR pulls", ["partner", "status", "pages", "items", "set aside", "message"], rows)
    typer.echo(f"priced: {result['priced']}")
