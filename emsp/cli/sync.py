"""`emsp sync locations|tariffs|sessions|hubclientinfo [--partner P] [--full] [--json]`: pull a module now,
from one partner (id or name) or from every CONNECTED partner that has its SENDER endpoint, with a progress
bar (on stderr). Same use case as `POST /admin/v1/sync/{module}`; an interrupted pull resumes from its
checkpoint. Exit code 1 when a pull did not complete."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.cli.common import err_console, fail, print_json, print_table, run_in_session
from emsp.ingest.jobs import sync_now
from emsp.ingest.sync import SyncOutcome
from emsp.node import Node
from partners.errors import PartnerNotFound
from partners.registry import find_partner


class Module(StrEnum):
    locations = "locations"
    tariffs = "tariffs"
    sessions = "sessions"
    hubclientinfo = "hubclientinfo"
    cdrs = "cdrs"  # priced by the CDR pricing job, or at once with `emsp cdrs pull`


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync(
        module: Annotated[Module, typer.Argument(help="The module to pull")],
        partner: Annotated[
            str | None, typer.Option("--partner", help="Partner id or name (default: all)")
        ] = None,
        full: Annotated[
            bool, typer.Option("--full", help="Full pull: mark what is no longer listed")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the outcomes as JSON")] = False,
    ) -> None:
        """Pull Locations, Tariffs, Sessions or a hub's ClientInfo from partners now."""
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[pages]} pages"),
            TimeElapsedColumn(),
            console=err_console,
            transient=as_json,
        )
        tasks: dict[str, TaskID] = {}

        def on_page(outcome: SyncOutcome) -> None:
            name = f"{outcome.module} from {outcome.partner}"
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=outcome.total_count, pages=0)
            progress.update(
                tasks[name], completed=outcome.items, total=outcome.total_count, pages=outcome.pages
            )

        async def go(node: Node, session: AsyncSession) -> list[SyncOutcome]:
            ref = partner
            if ref is not None:
                try:
                    ref = str((await find_partner(session, ref)).id)
                except PartnerNotFound as exc:
                    fail(exc.message)
            with progress:
                return await sync_now(
                    session,
                    node.http,
                    node.settings,
                    module.value,
                    partner_ref=ref,
                    full=full,
                    progress=on_page,
                )

        outcomes: list[SyncOutcome] = run_in_session(go)
        if as_json:
            print_json([o.to_json() for o in outcomes])
        elif not outcomes:
            err_console.print(f"no CONNECTED partner has a {module.value} SENDER endpoint")
        else:
            rows = [
                (
                    o.partner,
                    o.module,
                    o.status,
                    "full" if o.full else "incremental",
                    o.pages,
                    o.items,
                    o.rejected,
                    o.swept,
                    o.message or "",
                )
                for o in outcomes
            ]
            columns = [
                "partner",
                "module",
                "status",
                "kind",
                "pages",
                "items",
                "set aside",
                "gone",
                "message",
            ]
            print_table("Pull sync", columns, rows)
        if any(o.status == "incomplete" for o in outcomes):
            raise typer.Exit(1)
