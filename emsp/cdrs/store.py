"""Store a CPO CDR as received, once: the idempotency rule of the CDRs receiver and of the CDR pull.

Rule (docs/ocpi-rules-and-pitfalls 3c; the spec is silent on duplicates): a CDR is keyed by
`(country_code, party_id, id)`, compared case-insensitively.
- New key → stored (`created=True`).
- Same key, same canonical body → nothing written, the stored row is returned (`created=False`).
- Same key, different body → `CdrConflict`: a CDR cannot be changed once sent (mod_cdrs 10.1); the CPO must
  send a Credit CDR and a new CDR instead.

The insert is `INSERT … ON CONFLICT DO NOTHING`, so two concurrent POSTs of one CDR store it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from emsp.cdrs.tables import CdrFlag, CdrSource, CpoCdr
from ocpi.models.cdrs import Cdr
from ocpi.types import utcnow

log = logging.getLogger("emsp.cdrs")


class CdrConflict(Exception):
    """A CDR with this key is stored with a different body."""

    def __init__(self, stored: CpoCdr) -> None:
        super().__init__(
            f"CDR {stored.country_code}/{stored.party_id}/{stored.cdr_id} was already received with "
            "different content; a CDR cannot be changed: send a Credit CDR and a new CDR"
        )
        self.stored = stored


@dataclass(frozen=True)
class StoreResult:
    cdr: StoredCdr
    created: bool


def canonical_json(cdr: Cdr) -> str:
    """The CDR as parsed, dumped with sorted keys: formatting, key order and number spelling do not count."""
    return json.dumps(cdr.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_sha256(cdr: Cdr) -> str:
    return hashlib.sha256(canonical_json(cdr).encode("utf-8")).hexdigest()


def _norm(value: str | None) -> str | None:
    return None if value is None else value.lower()


def cdr_values(cdr: Cdr, raw_json: str, *, partner_id: int | None, source: CdrSource) -> dict[str, Any]:
    """Column values of the `cdrs` row for `cdr` (received as `raw_json`)."""
    loc, tok = cdr.cdr_location, cdr.cdr_token
    return {
        "partner_id": partner_id,
        "country_code": cdr.country_code.upper(),
        "party_id": cdr.party_id.upper(),
        "cdr_id": cdr.id,
        "cdr_id_norm": cdr.id.lower(),
        "body_sha256": body_sha256(cdr),
        "raw_json": raw_json,
        "source": source.value,
        "received_at": utcnow(),
        "start_date_time": cdr.start_date_time,
        "end_date_time": cdr.end_date_time,
        "last_updated": cdr.last_updated,
        "session_id": cdr.session_id,
        "token_uid": tok.uid,
        "token_type": tok.type.value,
        "token_country_code": tok.country_code.upper(),
        "token_party_id": tok.party_id.upper(),
        "contract_id": tok.contract_id,
        "contract_id_norm": tok.contract_id.lower(),
        "location_id": loc.id,
        "location_id_norm": loc.id.lower(),
        "evse_uid": loc.evse_uid,
        "evse_uid_norm": loc.evse_uid.lower(),
        "evse_id": loc.evse_id,
        "connector_id": loc.connector_id,
        "location_country": loc.country.upper(),
        "currency": cdr.currency.upper(),
        "total_cost_excl_vat": cdr.total_cost.excl_vat,
        "total_cost_incl_vat": cdr.total_cost.incl_vat,
        "total_energy": cdr.total_energy,
        "total_time": cdr.total_time,
        "total_parking_time": cdr.total_parking_time,
        "credit": bool(cdr.credit),
        "credit_reference_id": cdr.credit_reference_id,
        "credit_reference_id_norm": _norm(cdr.credit_reference_id),
    }


_KEY = ("country_code", "party_id", "cdr_id_norm")
CDRS = CpoCdr.__table__  # type: ignore[attr-defined]
_FIND = select(CpoCdr).where(
    col(CpoCdr.country_code) == bindparam("cc"),
    col(CpoCdr.party_id) == bindparam("pid"),
    col(CpoCdr.cdr_id_norm) == bindparam("id_norm"),
)
# Built once per dialect: statements with bound parameters are compiled once and cached by SQLAlchemy.
_INSERTS = {
    name: dialect.insert(CDRS).on_conflict_do_nothing(index_elements=list(_KEY)).returning(CDRS.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@dataclass(frozen=True, slots=True)
class StoredCdr:
    """The columns of a `cdrs` row as plain values: what verification and pricing read. Cheap to build on
    the ingest path (a table model instance is not), and made from a loaded row by `of`."""

    id: int
    partner_id: int | None
    country_code: str
    party_id: str
    cdr_id: str
    cdr_id_norm: str
    body_sha256: str
    raw_json: str
    source: str
    received_at: datetime
    start_date_time: datetime
    end_date_time: datetime
    last_updated: datetime
    session_id: str | None
    token_uid: str
    token_type: str
    token_country_code: str
    token_party_id: str
    contract_id: str
    contract_id_norm: str
    location_id: str
    location_id_norm: str
    evse_uid: str
    evse_uid_norm: str
    evse_id: str
    connector_id: str
    location_country: str
    currency: str
    total_cost_excl_vat: Decimal
    total_cost_incl_vat: Decimal | None
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal | None
    credit: bool
    credit_reference_id: str | None
    credit_reference_id_norm: str | None
    credited_cdr_id: int | None = None
    flag: str | None = None

    @classmethod
    def of(cls, row: CpoCdr) -> StoredCdr:
        return cls(**{name: getattr(row, name) for name in cls.__slots__})  # type: ignore[attr-defined]


async def find_cdr(session: AsyncSession, country_code: str, party_id: str, cdr_id: str) -> CpoCdr | None:
    params = {"cc": country_code.upper(), "pid": party_id.upper(), "id_norm": cdr_id.lower()}
    return (await session.exec(_FIND, params=params)).first()


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def store_cdr(
    session: AsyncSession, cdr: Cdr, raw_json: str, *, partner_id: int | None, source: CdrSource
) -> StoreResult:
    """Store `cdr` unless stored already (see the module docstring); raises `CdrConflict`."""
    values = cdr_values(cdr, raw_json, partner_id=partner_id, source=source)
    values["credited_cdr_id"] = values["flag"] = None
    if cdr.credit and cdr.credit_reference_id:
        original = await find_cdr(session, cdr.country_code, cdr.party_id, cdr.credit_reference_id)
        values["credited_cdr_id"] = original.id if original else None
        values["flag"] = None if original else CdrFlag.UNKNOWN_CREDIT_REFERENCE.value
    stmt = _INSERTS["postgresql" if dialect_of(session) == "postgresql" else "sqlite"]
    new_id = (await session.exec(stmt, params=values)).scalar_one_or_none()  # type: ignore[call-overload]
    if new_id is not None:
        if values["flag"]:
            log.warning(
                "credit CDR %s/%s/%s names unknown credit_reference_id %r",
                values["country_code"], values["party_id"], cdr.id, cdr.credit_reference_id,
            )  # fmt: skip
        return StoreResult(cdr=StoredCdr(id=new_id, **values), created=True)
    stored = await find_cdr(session, cdr.country_code, cdr.party_id, cdr.id)
    assert stored is not None, "conflicting row vanished"
    if stored.body_sha256 != values["body_sha256"]:
        log.warning(
            "CDR %s/%s/%s re-sent with different content; refused",
            stored.country_code, stored.party_id, stored.cdr_id,
        )  # fmt: skip
        raise CdrConflict(stored)
    return StoreResult(cdr=StoredCdr.of(stored), created=False)
