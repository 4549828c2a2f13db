"""In-process scheduler (APScheduler). Jobs are thin: open a session and call a plain async function.
Each capability registers its jobs through `JOBS` (name → (callable(node), trigger kwargs))."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from emsp.node import Node

log = logging.getLogger("emsp.scheduler")

JobFn = Callable[[Node], Awaitable[Any]]


def registered_jobs() -> list[tuple[str, JobFn, dict[str, Any]]]:
    """Every periodic job of the node: (name, coroutine function taking the node, interval trigger args)."""
    return []


def start_scheduler(node: Node) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, fn, trigger in registered_jobs():
        scheduler.add_job(
            fn, "interval", args=[node], id=name, name=name, max_instances=1, coalesce=True, **trigger
        )
    scheduler.start()
    log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    return scheduler
