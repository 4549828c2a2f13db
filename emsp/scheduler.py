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
    from emsp.tokens.validity import validity_job

    jobs: list[tuple[str, JobFn, dict[str, Any]]] = []
    jobs.append(("tokens.validity", validity_job, {"seconds": 60}))
    from emsp.distribution import jobs as distribution

    jobs.append(("distribution.deliver", distribution.delivery_job, {"seconds": 2}))
    jobs.append(("distribution.sync", distribution.sync_job, {"seconds": 30}))
    jobs.append(("distribution.reconcile", distribution.reconcile_job, {"seconds": 60}))
    from emsp.cdrs.jobs import retry_pricing_job

    jobs.append(("cdrs.retry_pricing", retry_pricing_job, {"seconds": 60}))
    from emsp.ingest.jobs import pull_job

    # runs the pulls that are due (EMSP_PULL_INTERVAL_HOURS with jitter); an advisory lock per pull on PG
    jobs.append(("ingest.pull", pull_job, {"minutes": 5, "jitter": 60}))
    return jobs


def start_scheduler(node: Node) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for name, fn, trigger in registered_jobs():
        scheduler.add_job(
            fn, "interval", args=[node], id=name, name=name, max_instances=1, coalesce=True, **trigger
        )
    scheduler.start()
    log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    return scheduler
