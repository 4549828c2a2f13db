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
    from emsp.cli import tokens

    app.add_typer(tokens.app, name="tokens", help="The tokens we issue (create, list, show, block ...)")
    from emsp.cli import distributions, worker

    app.add_typer(distributions.app, name="distributions", help="Token distribution to partners")
    worker.register(app)
    from emsp.cli import cdrs, msp_cdrs

    app.add_typer(cdrs.app, name="cdrs", help="CPO CDRs: price, verify, reprice")
    app.add_typer(msp_cdrs.app, name="msp-cdrs", help="MSP CDRs (drivers' bills) for finance")
    from emsp.cli import sync

    sync.register(app)


_add_groups()
