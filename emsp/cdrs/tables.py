"""CPO CDRs as received, and their verification against a recomputation with the CPO's own tariff.

`cdrs` rows are immutable once written (a CDR is "full and final", mod_cdrs 10.1): the body is kept as
received in `raw_json`, the other columns are copies for queries. Keys:

- `country_code`, `party_id`: upper-cased; `cdr_id_norm`: the CDR `id` lower-cased (CiString). The CDR key
  is `(country_code, party_id, cdr_id_norm)`, unique.
- `body_sha256`: digest of the *canonical* CDR (parsed by `ocpi.models.Cdr`, dumped with sorted keys), so a
  re-sent CDR that differs only in JSON formatting counts as the same CDR.
- `location_id_norm`, `evse_uid_norm`, `contract_id_norm`: lower-cased copies for lookups.
- `credited_cdr_id`: for a Credit CDR, our id of the CDR it credits (None until known); `flag` marks
  `UNKNOWN_CREDIT_REFERENCE` while the original is not known.

`cdr_verifications` (one per CDR, replaced when re-verified) and its lines hold, per cost component, what
the CPO billed ("received") and what we computed ("calculated"), and whether they differ by more than the
tolerance (`EMSP_CDR_PRICE_TOLERANCE`). No usable tariff gives status `NO_PRICE` with a reason: never 0.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ocpi.types import utcnow
from partners.sqltypes import ExactDecimal, UTCDateTime


class CdrSource(StrEnum):
    PUSH = "PUSH"  # the CPO POSTed it to our CDRs receiver
    PULL = "PULL"  # we fetched it from the CPO's CDRs sender


class CdrFlag(StrEnum):
    UNKNOWN_CREDIT_REFERENCE = "UNKNOWN_CREDIT_REFERENCE"


class VerificationStatus(StrEnum):
    MATCH = "MATCH"  # every component within the tolerance
    MISMATCH = "MISMATCH"  # at least one component differs by more than the tolerance
    NO_PRICE = "NO_PRICE"  # no usable tariff, time zone or original CDR: nothing to compare with


class CostComponentName(StrEnum):
    TOTAL = "TOTAL"
    FIXED = "FIXED"
    RESERVATION = "RESERVATION"
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING = "PARKING"


class CpoCdr(SQLModel, table=True):
    __tablename__ = "cdrs"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "cdr_id_norm", name="uq_cdrs_party_cdr_id"),
        Index("ix_cdrs_start", "start_date_time"),
        Index("ix_cdrs_received", "received_at", "id"),
        Index("ix_cdrs_contract", "contract_id_norm"),
        Index("ix_cdrs_location", "country_code", "party_id", "location_id_norm"),
        Index("ix_cdrs_credit_ref", "country_code", "party_id", "credit_reference_id_norm"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    cdr_id: str = Field(max_length=39)
    cdr_id_norm: str = Field(max_length=39)
    body_sha256: str = Field(max_length=64)
    raw_json: str = Field(sa_type=Text)
    source: str = Field(max_length=4)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    start_date_time: datetime = Field(sa_type=UTCDateTime)
    end_date_time: datetime = Field(sa_type=UTCDateTime)
    last_updated: datetime = Field(sa_type=UTCDateTime)
    session_id: str | None = Field(default=None, max_length=36)
    token_uid: str = Field(max_length=36)
    token_type: str = Field(max_length=12)
    token_country_code: str = Field(max_length=2)
    token_party_id: str = Field(max_length=3)
    contract_id: str = Field(max_length=36)
    contract_id_norm: str = Field(max_length=36)
    location_id: str = Field(max_length=36)
    location_id_norm: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)
    evse_uid_norm: str = Field(max_length=36)
    evse_id: str = Field(max_length=48)
    connector_id: str = Field(max_length=36)
    location_country: str = Field(max_length=3)
    currency: str = Field(max_length=3)
    total_cost_excl_vat: Decimal = Field(sa_type=ExactDecimal)
    total_cost_incl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    total_energy: Decimal = Field(sa_type=ExactDecimal)
    total_time: Decimal = Field(sa_type=ExactDecimal)
    total_parking_time: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    credit: bool = False
    credit_reference_id: str | None = Field(default=None, max_length=39)
    credit_reference_id_norm: str | None = Field(default=None, max_length=39)
    credited_cdr_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("cdrs.id"), nullable=True)
    )
    flag: str | None = Field(default=None, max_length=40)


class CdrVerification(SQLModel, table=True):
    __tablename__ = "cdr_verifications"

    id: int | None = Field(default=None, primary_key=True)
    cpo_cdr_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cdrs.id", ondelete="CASCADE"), nullable=False, unique=True)
    )
    status: str = Field(max_length=10, index=True)
    reason: str | None = Field(default=None, max_length=500)
    tariff_source: str | None = Field(default=None, max_length=20)  # CDR_TARIFFS, TARIFF_IN_FORCE, ORIGINAL
    tariff_ref: str | None = Field(default=None, max_length=120)
    time_zone: str | None = Field(default=None, max_length=64)
    tolerance: Decimal = Field(sa_type=ExactDecimal)
    max_difference: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    verified_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CdrVerificationLine(SQLModel, table=True):
    __tablename__ = "cdr_verification_lines"
    __table_args__ = (UniqueConstraint("verification_id", "component"),)

    id: int | None = Field(default=None, primary_key=True)
    verification_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cdr_verifications.id", ondelete="CASCADE"), nullable=False)
    )
    component: str = Field(max_length=12)
    received_excl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    received_incl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    calculated_excl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    calculated_incl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    difference_excl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    mismatch: bool = False
