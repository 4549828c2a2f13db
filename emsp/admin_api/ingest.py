"""Admin API: pull sync and what it set aside.

- `POST /sync/{module}?partner=&full=&wait=`: pull `locations`, `tariffs`, `sessions` or `hubclientinfo` now,
  from one partner (name or id) or from every CONNECTED partner that has the module's SENDER endpoint.
  `full=true`: a full pull (then what the partner no longer lists is marked gone). `wait=true`: answer when
  done, with each pull's outcome (200); otherwise it runs in the background (202). An interrupted pull
  resumes from its checkpoint.
- `GET /sync`: where every (partner, module) pull stands (watermark, last run, last error, a crawl under way).
- `GET /ingest/quarantine?partner_id=&module=&offset=&limit=`: pulled items set aside, with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from emsp.db import session_scope
from emsp.deps import AdminKeyDep, DbSession, NodeDep
from emsp.errors import AdminError
from emsp.ingest.jobs import sync_now
from emsp.ingest.quarantine import list_quarantine
from emsp.ingest.queries import list_checkpoints
from emsp.node import Node
from partners.errors import PartnerNotFound
from partners.registry import find_partner

log = logging.getLogger("emsp.admin_api.ingest")
router = APIRouter(tags=["admin: pull sync"])


class PullModule(StrEnum):
    locations = "locations"
    tariffs = "tariffs"
    sessions = "sessions"
    hubclientinfo = "hubclientinfo"


async def _run(node: Node, module: str, partner: str | None, full: bool) -> list[dict[str, Any]]:
    async with session_scope(node.sessionmaker) as session:
        outcomes = await sync_now(session, node.http, node.settings, module, partner_ref=partner, full=full)
        return [o.to_json() for o in outcomes]


@router.post("/sync/{module}")
async def trigger_sync(
    module: PullModule,
    node: NodeDep,
    session: DbSession,
    _key: AdminKeyDep,
    partner: Annotated[str | None, Query(max_length=100)] = None,
    full: bool = False,
    wait: bool = False,
) -> JSONResponse:
    if partner is not None:
        try:
            found = await find_partner(session, partner)
        except PartnerNotFound as exc:
            raise AdminError(404, "not_found", exc.message) from None
        partner = str(found.id)
    await session.commit()  # the pull runs in sessions of its own; SQLite: this one must hold no lock
    if wait:
        return JSONResponse({"outcomes": await _run(node, module.value, partner, full)})

    async def background() -> None:
        try:
            outcomes = await _run(node, module.value, partner, full)
            log.info("pull %s requested by an operator: %s", module.value, outcomes)
        except Exception:
            log.exception("pull %s requested by an operator failed", module.value)

    task = asyncio.create_task(background())
    tasks: set[asyncio.Task[None]] = node.extras.setdefault("ingest.sync_tasks", set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return JSONResponse({"started": True, "module": module.value, "partner": partner, "full": full}, 202)


@router.get("/sync")
async def sync_status(session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    return {"items": await list_checkpoints(session)}


@router.get("/ingest/quarantine")
async def quarantine(
    session: DbSession,
    _key: AdminKeyDep,
    partner_id: int | None = None,
    module: PullModule | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    total, items = await list_quarantine(
        session,
        partner_id=partner_id,
        module=None if module is None else module.value,
        offset=offset,
        limit=limit,
    )
    return {"items": items, "total": total, "offset": offset, "limit": limit}
