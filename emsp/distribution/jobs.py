"""Scheduled entry points (in-process, APScheduler) and the `emsp worker` loop. Thin: build the policy
from the node's settings and call the plain functions that tests call directly."""

from __future__ import annotations

import asyncio
import logging
import time

from emsp.db import session_scope
from emsp.distribution.policy import DeliveryPolicy
from emsp.distribution.reconcile import reconcile_due
from emsp.distribution.sync import sync_partners
from emsp.distribution.worker import DeliveryWorker, deliver_until_idle
from emsp.node import Node

log = logging.getLogger("emsp.distribution")


async def delivery_job(node: Node) -> None:
    """Claim and deliver while there is due work, then return (runs every few seconds)."""
    policy = DeliveryPolicy.from_settings(node.settings)
    stats = await deliver_until_idle(node.sessionmaker, node.http, policy, sync=False)
    if stats.claimed:
        log.info("distribution job: %s", stats.as_dict())


async def sync_job(node: Node) -> None:
    """Rows in line with partner states: backfill newly CONNECTED partners, pause SUSPENDED ones."""
    async with session_scope(node.sessionmaker) as session:
        await sync_partners(session)


async def reconcile_job(node: Node) -> None:
    """GET a sample of delivered tokens back from each partner whose turn has come."""
    await reconcile_due(node.sessionmaker, node.http, DeliveryPolicy.from_settings(node.settings))


async def run_worker(node: Node, stop: asyncio.Event) -> None:
    """`emsp worker`: deliver until `stop` is set; reconcile partners whose turn has come on the way."""
    policy = DeliveryPolicy.from_settings(node.settings)
    worker = DeliveryWorker(node.sessionmaker, node.http, policy)
    log.info("distribution worker %s started", worker.worker_id)
    reconciling = asyncio.create_task(_reconcile_loop(node, policy, stop))
    try:
        await worker.run(stop=stop)
    finally:
        stop.set()
        await reconciling
        log.info("distribution worker %s stopped: %s", worker.worker_id, worker.stats.as_dict())


async def _reconcile_loop(node: Node, policy: DeliveryPolicy, stop: asyncio.Event) -> None:
    next_run = time.monotonic() + min(60.0, policy.reconcile_interval_seconds)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_run - time.monotonic()))
            return
        except TimeoutError:
            pass
        try:
            await reconcile_due(node.sessionmaker, node.http, policy)
        except Exception:
            log.exception("distribution: reconciliation failed")
        next_run = time.monotonic() + 60.0
