"""`emsp worker`: a separate delivery worker process (scale out: run several against one PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import signal

import typer

from emsp.cli.common import run_with_node
from emsp.gc_policy import freeze_startup_objects
from emsp.logging import configure_logging
from emsp.node import Node
from emsp.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def worker() -> None:
        """Deliver token changes to partners until stopped (SIGTERM / Ctrl-C: finish in-flight calls, exit).

        Set EMSP_RUN_WORKER=false on the API processes when workers run separately."""
        from emsp.distribution.jobs import run_worker

        configure_logging(Settings().log_level)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per PUT

        async def _go(node: Node) -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            freeze_startup_objects()
            await run_worker(node, stop)

        run_with_node(_go)
