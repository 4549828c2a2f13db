"""The `emsp` command line: the same settings and database as the server.

Each command group lives in its own module and is added here.
"""

from __future__ import annotations

import typer

from emsp.cli import core

app = typer.Typer(no_args_is_help=True, add_completion=False, help="OCPI 2.2.1 eMSP node")
core.register(app)


def _add_groups() -> None:
    from emsp.cli import partners

    app.add_typer(partners.app, name="partners", help="Partner registrations (credentials handshake)")


_add_groups()
