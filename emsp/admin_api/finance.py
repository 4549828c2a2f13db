"""Admin API for finance (`/admin/v1/msp-cdrs`, `/admin/v1/cdrs`): the MSP CDRs (the drivers' bills) and
the CPO CDRs behind them (architecture data flow 5).

- `GET /msp-cdrs`: filter by period (`from` inclusive, `to` exclusive, on the session start), CPO party,
  token, contract, location, country, plan, status, invoiced; JSON pages (`offset`, `limit`) with totals.
- `GET /msp-cdrs/export?format=csv|json`: the same filters, streamed (constant memory).
- `GET /msp-cdrs/{id}`: one MSP CDR, its CPO CDR as received beside it, the verification, every revision.
- `POST /msp-cdrs/{id}/invoiced`: mark a revision invoiced (a later repricing then adds a revision instead
  of touching it).
- `GET /cdrs/mismatches` (and `?status=NO_PRICE`): CPO CDRs whose billing differs from our recomputation.
- `GET /cdrs/{id}`, `POST /cdrs/{id}/reprice`, `POST /cdrs/reprice-failed`.

Errors: bad input 400 with the details, unknown id 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from emsp.billing.export import csv_chunks, json_chunks
from emsp.billing.queries import MspCdrFilter, list_msp_cdrs, msp_cdr_view, msp_totals
from emsp.billing.tables import MspCdr, MspCdrStatus
from emsp.cdrs.pipeline import reprice, retry_failed_pricing
from emsp.cdrs.queries import cdr_view, list_checked, verification_view
from emsp.cdrs.tables import CpoCdr, VerificationStatus
from emsp.deps import AdminKeyDep, DbSession, NodeDep
from emsp.errors import AdminError
from emsp.ocpi_api.cdrs import policy_of
from ocpi.types import to_utc, utcnow

router = APIRouter(tags=["admin: finance"])

Code2 = Annotated[str | None, Query(min_length=2, max_length=2)]
Code3 = Annotated[str | None, Query(min_length=3, max_length=3)]
Id36 = Annotated[str | None, Query(min_length=1, max_length=36)]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def msp_filter(
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    cpo_country_code: Code2 = None,
    cpo_party_id: Code3 = None,
    token_uid: Id36 = None,
    contract_id: Id36 = None,
    location_id: Id36 = None,
    country: Code2 = None,
    plan: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    status: MspCdrStatus | None = None,
    invoiced: bool | None = None,
    cpo_cdr_id: Annotated[int | None, Query(ge=1)] = None,
    all_revisions: bool = False,
) -> MspCdrFilter:
    if date_from and date_to and _utc(date_from) >= _utc(date_to):  # type: ignore[operator]
        raise AdminError(400, "invalid_request", "`from` must be before `to`")
    return MspCdrFilter(
        date_from=_utc(date_from),
        date_to=_utc(date_to),
        cpo_country_code=cpo_country_code,
        cpo_party_id=cpo_party_id,
        token_uid=token_uid,
        contract_id=contract_id,
        location_id=location_id,
        country=country,
        plan_code=plan,
        status=None if status is None else status.value,
        invoiced=invoiced,
        cpo_cdr_id=cpo_cdr_id,
        all_revisions=all_revisions,
    )


Filter = Annotated[MspCdrFilter, Depends(msp_filter)]


@router.get("/msp-cdrs")
async def get_msp_cdrs(
    f: Filter,
    session: DbSession,
    _key: AdminKeyDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """A page of MSP CDRs (by session start) and the totals of every match."""
    total, rows = await list_msp_cdrs(session, f, offset=offset, limit=limit)
    next_offset = offset + len(rows) if offset + len(rows) < total else None
    return {
        "items": [msp_cdr_view(row) for row in rows],
        "total": total,
        "offset": offset,
        "limit": limit,
        "next_offset": next_offset,
        "totals": await msp_totals(session, f),
    }


@router.get("/msp-cdrs/export")
async def export_msp_cdrs(
    f: Filter,
    node: NodeDep,
    _key: AdminKeyDep,
    export_format: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
) -> StreamingResponse:
    """Every matching MSP CDR, streamed as CSV (header row first) or one JSON array."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    if export_format == "json":
        return StreamingResponse(json_chunks(node.sessionmaker, f), media_type="application/json")
    return StreamingResponse(
        csv_chunks(node.sessionmaker, f),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="msp-cdrs-{stamp}.csv"'},
    )


async def _msp_cdr(session: DbSession, msp_cdr_id: int) -> MspCdr:
    row = await session.get(MspCdr, msp_cdr_id)
    if row is None:
        raise AdminError(404, "not_found", f"No MSP CDR {msp_cdr_id}")
    return row


async def _cpo_cdr(session: DbSession, cdr_id: int) -> CpoCdr:
    row = await session.get(CpoCdr, cdr_id)
    if row is None:
        raise AdminError(404, "not_found", f"No CDR {cdr_id}")
    return row


async def _revisions(session: DbSession, cdr_id: int) -> list[dict[str, Any]]:
    _, rows = await list_msp_cdrs(
        session, MspCdrFilter(cpo_cdr_id=cdr_id, all_revisions=True), offset=0, limit=1000
    )
    return [msp_cdr_view(row) for row in sorted(rows, key=lambda r: r.revision)]


@router.get("/msp-cdrs/{msp_cdr_id}")
async def get_msp_cdr(msp_cdr_id: int, session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    """The MSP CDR, the CPO CDR as received beside it, our verification of it, and every revision."""
    row = await _msp_cdr(session, msp_cdr_id)
    cdr = await _cpo_cdr(session, row.cpo_cdr_id)
    return {
        "msp_cdr": msp_cdr_view(row),
        "cpo_cdr": cdr_view(cdr, with_body=True),
        "verification": await verification_view(session, row.cpo_cdr_id),
        "revisions": await _revisions(session, row.cpo_cdr_id),
    }


@router.post("/msp-cdrs/{msp_cdr_id}/invoiced")
async def mark_invoiced(msp_cdr_id: int, session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    """Mark a PRICED revision invoiced (idempotent)."""
    row = await _msp_cdr(session, msp_cdr_id)
    if row.status != MspCdrStatus.PRICED:
        raise AdminError(409, "not_priced", "Only a PRICED MSP CDR can be invoiced")
    if not row.invoiced:
        row.invoiced, row.invoiced_at = True, utcnow()
        session.add(row)
        await session.flush()
    return msp_cdr_view(row)


@router.get("/cdrs/mismatches")
async def get_mismatches(
    session: DbSession,
    _key: AdminKeyDep,
    status: VerificationStatus = VerificationStatus.MISMATCH,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    country_code: Code2 = None,
    party_id: Code3 = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """CPO CDRs whose billing differs from our recomputation (or, with `status`, that matched or could
    not be checked), with the verification summary."""
    total, items = await list_checked(
        session,
        status=status.value,
        date_from=_utc(date_from),
        date_to=_utc(date_to),
        country_code=country_code,
        party_id=party_id,
        offset=offset,
        limit=limit,
    )
    return {"items": items, "total": total, "offset": offset, "limit": limit}


@router.get("/cdrs/{cdr_id}")
async def get_cpo_cdr(cdr_id: int, session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    cdr = await _cpo_cdr(session, cdr_id)
    return {
        "cpo_cdr": cdr_view(cdr, with_body=True),
        "verification": await verification_view(session, cdr_id),
        "revisions": await _revisions(session, cdr_id),
    }


@router.post("/cdrs/reprice-failed")
async def reprice_failed(
    session: DbSession, node: NodeDep, _key: AdminKeyDep, limit: Annotated[int, Query(ge=1, le=10000)] = 100
) -> dict[str, Any]:
    """Price again the CDRs whose pricing failed (what the periodic retry job does)."""
    return {"priced": await retry_failed_pricing(session, policy_of(node.settings), limit=limit)}


@router.post("/cdrs/{cdr_id}/reprice")
async def reprice_cdr(cdr_id: int, session: DbSession, node: NodeDep, _key: AdminKeyDep) -> dict[str, Any]:
    """Verify and price the CDR again: a new MSP CDR revision when the result changed (never an edit)."""
    cdr = await _cpo_cdr(session, cdr_id)
    current = await reprice(session, cdr, policy_of(node.settings))
    msp = await _msp_cdr(session, current.id)
    return {"msp_cdr": msp_cdr_view(msp), "verification": await verification_view(session, cdr_id)}
