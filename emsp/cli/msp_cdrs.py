"""`emsp msp-cdrs ...`: the drivers' bills (MSP CDRs) for finance, like the admin API's `/msp-cdrs`.

- `list [--from DATE] [--to DATE] [filters]`: current revisions by session start, with totals.
- `show ID`: one MSP CDR beside its CPO CDR, with every revision.
- `export --from DATE --to DATE --format csv|json [--output FILE]`: streamed, constant memory.

`--from` is inclusive and `--to` exclusive, on the session start (UTC; a bare date is midnight UTC).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.billing.export import csv_chunks, json_chunks
from emsp.billing.queries import MspCdrFilter, list_msp_cdrs, msp_cdr_view, msp_totals
from emsp.billing.tables import MspCdr
from emsp.cdrs.queries import cdr_view, verification_view
from emsp.cdrs.tables import CpoCdr
from emsp.cli.common import fail, print_json, print_table, run_in_session, run_with_node
from emsp.node import Node
from ocpi.types import to_utc

app = typer.Typer(no_args_is_help=True, add_completion=False, help="MSP CDRs (drivers' bills) for finance")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
From = Annotated[str | None, typer.Option("--from", help="Session start from (inclusive), ISO date or time")]
To = Annotated[str | None, typer.Option("--to", help="Session start before (exclusive), ISO date or time")]
Party = Annotated[str | None, typer.Option(help="CPO party as CC/PID, e.g. BE/BEC")]


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = to_utc(value if "T" in value else value + "T00:00:00Z")
    except ValueError:
        fail(f"{name}: not an ISO date or date-time: {value!r}")
    assert isinstance(parsed, datetime)
    return parsed


def _filter(date_from: str | None, date_to: str | None, party: str | None, **exact: Any) -> MspCdrFilter:
    cc, _, pid = (party or "").partition("/")
    if party and (len(cc) != 2 or len(pid) != 3):
        fail("--party must look like CC/PID")
    start, end = _when(date_from, "--from"), _when(date_to, "--to")
    if start and end and start >= end:
        fail("--from must be before --to")
    return MspCdrFilter(
        date_from=start, date_to=end, cpo_country_code=cc or None, cpo_party_id=pid or None, **exact
    )


@app.command("list")
def list_command(
    date_from: From = None,
    date_to: To = None,
    party: Party = None,
    token: Annotated[str | None, typer.Option(help="Token uid")] = None,
    contract: Annotated[str | None, typer.Option(help="Contract id")] = None,
    location: Annotated[str | None, typer.Option(help="Location id")] = None,
    country: Annotated[str | None, typer.Option(help="Country (alpha-2) of the charging location")] = None,
    plan: Annotated[str | None, typer.Option(help="Plan code")] = None,
    limit: int = 100,
    offset: int = 0,
    as_json: AsJson = False,
) -> None:
    """MSP CDRs matching the filters (current revisions), with totals."""
    exact = {"token_uid": token, "contract_id": contract, "location_id": location, "country": country}
    f = _filter(date_from, date_to, party, plan_code=plan, **exact)

    async def go(_node: Node, session: AsyncSession) -> dict[str, Any]:
        total, rows = await list_msp_cdrs(session, f, offset=offset, limit=limit)
        return {
            "items": [msp_cdr_view(r) for r in rows],
            "total": total,
            "totals": await msp_totals(session, f),
        }

    view = run_in_session(go)
    if as_json:
        print_json(view)
        return
    rows = [
        (i["id"], i["revision"], f"{i['cpo_country_code']}/{i['cpo_party_id']}/{i['cdr_ref']}",
         i["start_date_time"], i["contract_id"], i["plan_code"], i["status"], i["total_incl_vat"],
         i["currency"], i["std_total_incl_vat"])
        for i in view["items"]
    ]  # fmt: skip
    columns = ["id", "rev", "cdr", "start", "contract", "plan", "status", "incl VAT", "cur", "std incl VAT"]
    print_table(f"MSP CDRs: {view['total']}", columns, rows)
    typer.echo(f"totals: {view['totals']}")


@app.command()
def show(msp_cdr_id: int, as_json: AsJson = False) -> None:
    """One MSP CDR with its CPO CDR beside it."""

    async def go(_node: Node, session: AsyncSession) -> dict[str, Any]:
        row = await session.get(MspCdr, msp_cdr_id)
        if row is None:
            fail(f"no MSP CDR {msp_cdr_id}")
        assert row is not None
        cpo = await session.get(CpoCdr, row.cpo_cdr_id)
        return {
            "msp_cdr": msp_cdr_view(row),
            "cpo_cdr": None if cpo is None else cdr_view(cpo, with_body=as_json),
            "verification": await verification_view(session, row.cpo_cdr_id),
        }

    view = run_in_session(go)
    if as_json:
        print_json(view)
        return
    cpo = view["cpo_cdr"] or {}
    msp = view["msp_cdr"]
    keys = sorted(set(msp) | set(cpo))
    print_table(
        f"MSP CDR {msp_cdr_id}", ["field", "MSP CDR", "CPO CDR"], [(k, msp.get(k), cpo.get(k)) for k in keys]
    )


@app.command()
def export(
    date_from: From = None,
    date_to: To = None,
    export_format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    party: Party = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout)")] = None,
) -> None:
    """Every matching MSP CDR (current revisions) as CSV or a JSON array."""
    if export_format not in ("csv", "json"):
        fail("--format must be csv or json")
    f = _filter(date_from, date_to, party)
    chunks = csv_chunks if export_format == "csv" else json_chunks

    async def go(node: Node) -> None:
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            async for chunk in chunks(node.sessionmaker, f):
                out.write(chunk)
                await asyncio.sleep(0)
        finally:
            if output:
                out.close()

    run_with_node(go)
