"""Tables of ingested objects and of pull sync.

Keys `(country_code, party_id, <id>)` are stored upper-cased: the spec's CiString compares case-insensitively,
and the original spelling stays in `data`. `data` is the object as the `ocpi` model dumps it (`to_json()`);
for a Location it leaves out `evses`, which live one per row in `evses` (so an EVSE status PATCH touches one
small row). `partner_id` is the partner the latest version came from. `received_at` is our clock at the last
write; `last_pull_id` the pull crawl that last listed the object (the sweep after a complete full pull marks
`gone_at` on what the partner no longer lists).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ocpi.types import utcnow
from partners.sqltypes import ExactDecimal, UTCDateTime


def _partner_fk() -> Any:
    return Column(Integer, ForeignKey("partners.id", ondelete="SET NULL"), nullable=True, index=True)


def _json() -> Any:
    return Column(JSON, nullable=False)


class IngestedLocation(SQLModel, table=True):
    """A Location (8.3.1) without its EVSEs, plus the columns operator queries filter and sort on."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "location_id", name="uq_locations_key"),
        Index("ix_locations_city", "city"),
        Index("ix_locations_last_updated", "last_updated"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    location_id: str = Field(max_length=36)
    partner_id: int | None = Field(default=None, sa_column=_partner_fk())
    last_updated: datetime = Field(sa_type=UTCDateTime)
    publish: bool = True
    name: str | None = Field(default=None, max_length=255)
    address: str = Field(max_length=45)
    city: str = Field(max_length=45)
    postal_code: str | None = Field(default=None, max_length=10)
    country: str = Field(max_length=3)
    time_zone: str = Field(max_length=255)
    latitude: float
    longitude: float
    data: dict[str, Any] = Field(sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    gone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_pull_id: str | None = Field(default=None, max_length=36)


class IngestedEvse(SQLModel, table=True):
    """An EVSE (8.3.2) of a stored Location, its Connectors inside `data`. Never deleted: a removed EVSE has
    status REMOVED (8.1)."""

    __tablename__ = "evses"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "location_id", "uid", name="uq_evses_key"),
        Index("ix_evses_evse_id", "evse_id"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    location_id: str = Field(max_length=36)
    uid: str = Field(max_length=36)
    position: int = 0
    evse_id: str | None = Field(default=None, max_length=48)
    status: str = Field(max_length=20)
    last_updated: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, Any] = Field(sa_column=_json())
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IngestedTariff(SQLModel, table=True):
    """The current version of a Tariff (11.3.1). DELETE sets `deleted_at`; the versions stay."""

    __tablename__ = "tariffs"
    __table_args__ = (UniqueConstraint("country_code", "party_id", "tariff_id", name="uq_tariffs_key"),)

    pk: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    tariff_id: str = Field(max_length=36)
    partner_id: int | None = Field(default=None, sa_column=_partner_fk())
    last_updated: datetime = Field(sa_type=UTCDateTime)
    currency: str = Field(max_length=3)
    type: str | None = Field(default=None, max_length=30)
    start_date_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_date_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1
    data: dict[str, Any] = Field(sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_pull_id: str | None = Field(default=None, max_length=36)


class TariffVersion(SQLModel, table=True):
    """One version of a Tariff: valid from its `last_updated` until the next version's (or the deletion)."""

    __tablename__ = "tariff_versions"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "tariff_id", "version", name="uq_tariff_versions_key"),
        Index("ix_tariff_versions_valid_from", "country_code", "party_id", "tariff_id", "valid_from"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    tariff_id: str = Field(max_length=36)
    version: int
    valid_from: datetime = Field(sa_type=UTCDateTime)
    partner_id: int | None = Field(default=None, sa_column=_partner_fk())
    data: dict[str, Any] = Field(sa_column=_json())
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IngestedSession(SQLModel, table=True):
    """A Session (9.3.1) with its charging periods inside `data`."""

    __tablename__ = "charging_sessions"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "session_id", name="uq_charging_sessions_key"),
        Index("ix_charging_sessions_token_uid", "token_uid"),
        Index("ix_charging_sessions_start", "start_date_time"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    session_id: str = Field(max_length=36)
    partner_id: int | None = Field(default=None, sa_column=_partner_fk())
    last_updated: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=20, index=True)
    start_date_time: datetime = Field(sa_type=UTCDateTime)
    end_date_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    kwh: Decimal = Field(sa_type=ExactDecimal)
    currency: str = Field(max_length=3)
    total_cost_excl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    total_cost_incl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    token_uid: str = Field(max_length=36)
    token_type: str = Field(max_length=20)
    contract_id: str = Field(max_length=36)
    location_id: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)
    connector_id: str = Field(max_length=36)
    data: dict[str, Any] = Field(sa_column=_json())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_pull_id: str | None = Field(default=None, max_length=36)


class HubClientInfo(SQLModel, table=True):
    """A ClientInfo (15.3.1) a hub partner reported: a party the hub speaks for, and its connection status."""

    __tablename__ = "hub_client_infos"
    __table_args__ = (
        UniqueConstraint("partner_id", "country_code", "party_id", name="uq_hub_client_infos_key"),
    )

    pk: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    role: str = Field(max_length=10)
    status: str = Field(max_length=20)
    last_updated: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, Any] = Field(sa_column=_json())
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    gone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_pull_id: str | None = Field(default=None, max_length=36)


class PullCheckpoint(SQLModel, table=True):
    """Where pull sync of one module from one partner stands.

    `watermark` is the `date_from` of the next incremental pull (the newest `last_updated` a complete crawl
    saw). While a crawl runs, `crawl_id` is set and `cursor_url` is the next page to fetch: it moves only
    when a page is stored, so a crashed crawl resumes there.
    """

    __tablename__ = "pull_checkpoints"
    __table_args__ = (UniqueConstraint("partner_id", "module", name="uq_pull_checkpoints_key"),)

    pk: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    module: str = Field(max_length=20)
    watermark: datetime | None = Field(default=None, sa_type=UTCDateTime)
    crawl_id: str | None = Field(default=None, max_length=36)
    crawl_full: bool = False
    crawl_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cursor_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    crawl_max_last_updated: datetime | None = Field(default=None, sa_type=UTCDateTime)
    crawl_total: int | None = None  # X-Total-Count of the last page stored (resume: the drop rule)
    crawl_pages: int = 0
    crawl_items: int = 0
    crawl_invalid: int = 0
    last_completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_full_completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_items: int = 0
    last_swept: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PullQuarantine(SQLModel, table=True):
    """A pulled item that failed validation or scoping, kept aside with the reason (4.1.4.1: process the
    valid objects, log the invalid ones). One row per (partner, module, object): a repeat updates it."""

    __tablename__ = "pull_quarantine"
    __table_args__ = (UniqueConstraint("partner_id", "module", "object_ref", name="uq_pull_quarantine_key"),)

    pk: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    module: str = Field(max_length=20)
    object_ref: str = Field(max_length=120)  # "CC/PID/ID" when known, else "sha256:<digest of the payload>"
    object_id: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=1000)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # truncated
    request_id: str | None = Field(default=None, max_length=100)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    times: int = 1
