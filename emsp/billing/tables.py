"""MSP billing: our tariff plans, which plan applies where, VAT and exchange rates, and the MSP CDRs.

Plans (`msp_tariff_plans`), kind:
- `OCPI_TARIFF`: an OCPI 2.2.1 Tariff we define, stored as its JSON (`tariff_json`), priced with
  `cdr_pricing.price_cdr` in the Location's time zone.
- `MARKUP`: the CPO's billed cost (the CDR's `total_*_cost`, what we pay) times `1 + markup_percent/100`,
  plus `markup_fixed` (in `currency`, converted to the CDR currency when it differs).
Prices are excl. VAT; the VAT of an MSP CDR is the rate of the charging location's country (`vat_rates`),
applied once to the total. VAT fields inside a plan's OCPI Tariff are ignored.

Assignments (`msp_plan_assignments`): the most specific rule wins,
`EVSE > LOCATION > LOCATION_GROUP > CPO_PARTY > SUBSCRIPTION > DEFAULT`; within one level a rule limited to
the driver's subscription beats one for everybody. A driver's subscription comes from `msp_contracts`
(the CDR token's `contract_id` → subscription code); location groups from `msp_location_group_members`.
Key columns hold `''` when unused (so the unique constraint works on both databases); ids are lower-cased,
country codes and party ids upper-cased.

MSP CDRs (`msp_cdrs`): one row per revision of the bill of one CPO CDR, never updated except `invoiced`.
The current revision of a CDR is its highest `revision`. A re-run whose result differs adds a revision;
one whose result is the same (`result_sha256`) adds nothing. A revision made while the previous one was
invoiced has `supersedes_invoiced` set, for finance to correct the invoice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ocpi.types import utcnow
from partners.sqltypes import ExactDecimal, UTCDateTime


class PlanKind(StrEnum):
    OCPI_TARIFF = "OCPI_TARIFF"
    MARKUP = "MARKUP"


class AssignmentScope(StrEnum):
    EVSE = "EVSE"
    LOCATION = "LOCATION"
    LOCATION_GROUP = "LOCATION_GROUP"
    CPO_PARTY = "CPO_PARTY"
    SUBSCRIPTION = "SUBSCRIPTION"
    DEFAULT = "DEFAULT"


SCOPE_PRECEDENCE = list(AssignmentScope)  # most specific first


class MspCdrStatus(StrEnum):
    PRICED = "PRICED"
    FAILED = "FAILED"  # "pricing failed: <reason>"; the retry job prices it again


class MspTariffPlan(SQLModel, table=True):
    __tablename__ = "msp_tariff_plans"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=12)
    currency: str = Field(max_length=3)
    tariff_json: str | None = Field(default=None, sa_type=Text)
    markup_percent: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    markup_fixed: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MspPlanAssignment(SQLModel, table=True):
    __tablename__ = "msp_plan_assignments"
    __table_args__ = (
        UniqueConstraint(
            "scope",
            "subscription",
            "country_code",
            "party_id",
            "location_id",
            "evse_uid",
            "location_group",
            name="uq_msp_plan_assignments_key",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(
        sa_column=Column(Integer, ForeignKey("msp_tariff_plans.id", ondelete="RESTRICT"), nullable=False)
    )
    scope: str = Field(max_length=16)
    subscription: str = Field(default="", max_length=40)
    country_code: str = Field(default="", max_length=2)
    party_id: str = Field(default="", max_length=3)
    location_id: str = Field(default="", max_length=36)
    evse_uid: str = Field(default="", max_length=36)
    location_group: str = Field(default="", max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MspContract(SQLModel, table=True):
    """A driver's contract (the token's `contract_id`) → the subscription they pay for."""

    __tablename__ = "msp_contracts"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(max_length=36)
    contract_id_norm: str = Field(max_length=36, unique=True)
    subscription: str = Field(max_length=40)
    customer_ref: str | None = Field(default=None, max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MspLocationGroupMember(SQLModel, table=True):
    __tablename__ = "msp_location_group_members"
    __table_args__ = (
        UniqueConstraint("location_group", "country_code", "party_id", "location_id"),
        Index("ix_msp_location_group_members_location", "country_code", "party_id", "location_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_group: str = Field(max_length=40)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    location_id: str = Field(max_length=36)


class VatRate(SQLModel, table=True):
    """VAT percent of a country (ISO 3166 alpha-2) from `valid_from` until the next row of that country."""

    __tablename__ = "vat_rates"
    __table_args__ = (UniqueConstraint("country_code", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    rate_percent: Decimal = Field(sa_type=ExactDecimal)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FxRate(SQLModel, table=True):
    """1 `base_currency` = `rate` `quote_currency`, from `valid_from` until the next row of that pair."""

    __tablename__ = "fx_rates"
    __table_args__ = (UniqueConstraint("base_currency", "quote_currency", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    base_currency: str = Field(max_length=3)
    quote_currency: str = Field(max_length=3)
    rate: Decimal = Field(sa_type=ExactDecimal)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    source: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MspCdr(SQLModel, table=True):
    __tablename__ = "msp_cdrs"
    __table_args__ = (
        UniqueConstraint("cpo_cdr_id", "revision", name="uq_msp_cdrs_cdr_revision"),
        Index("ix_msp_cdrs_start", "start_date_time", "id"),
        Index("ix_msp_cdrs_contract", "contract_id"),
        Index("ix_msp_cdrs_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cpo_cdr_id: int = Field(
        sa_column=Column(Integer, ForeignKey("cdrs.id", ondelete="RESTRICT"), nullable=False)
    )
    revision: int = 1
    status: str = Field(max_length=8)
    failure_reason: str | None = Field(default=None, max_length=500)
    credit: bool = False
    corrects_msp_cdr_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("msp_cdrs.id"), nullable=True)
    )
    supersedes_invoiced: bool = False
    cpo_country_code: str = Field(max_length=2)
    cpo_party_id: str = Field(max_length=3)
    cdr_ref: str = Field(max_length=39)  # the CPO's CDR id
    token_uid: str = Field(max_length=36)
    contract_id: str = Field(max_length=36)
    subscription: str | None = Field(default=None, max_length=40)
    location_id: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)
    country: str = Field(max_length=2)
    start_date_time: datetime = Field(sa_type=UTCDateTime)
    end_date_time: datetime = Field(sa_type=UTCDateTime)
    energy_kwh: Decimal = Field(sa_type=ExactDecimal)
    time_hours: Decimal = Field(sa_type=ExactDecimal)
    parking_hours: Decimal = Field(sa_type=ExactDecimal)
    plan_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("msp_tariff_plans.id", ondelete="RESTRICT"))
    )
    plan_code: str | None = Field(default=None, max_length=40, index=True)
    plan_version: int | None = None
    plan_rule: str | None = Field(default=None, max_length=120)  # which assignment chose the plan
    currency: str = Field(max_length=3)
    std_currency: str = Field(max_length=3)
    fx_rate: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    fx_rate_id: int | None = None
    vat_percent: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    vat_rate_id: int | None = None
    fixed_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    reservation_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    parking_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    energy_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    time_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    additional_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    total_excl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    total_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    total_incl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_fixed_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_reservation_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_parking_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_energy_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_time_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_additional_cost: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_total_excl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_total_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    std_total_incl_vat: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    cpo_total_excl_vat: Decimal = Field(sa_type=ExactDecimal)  # what the CPO billed us, CDR currency
    result_sha256: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    invoiced: bool = False
    invoiced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
