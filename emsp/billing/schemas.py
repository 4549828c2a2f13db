"""Admin API bodies for billing configuration: plans, assignments, contracts, location groups, VAT, FX.

Every body refuses unknown fields; codes are checked (ISO 3166 countries and ISO 4217 currencies with
pycountry), and an OCPI Tariff plan must be a Tariff the pricing engine accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

import cdr_pricing
from emsp.billing.rates import country_alpha2, is_currency
from emsp.billing.tables import AssignmentScope, PlanKind
from ocpi.models.tariffs import Tariff
from ocpi.types import to_utc

Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{1,40}$")]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Id36 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=36)]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value.upper()


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanIn(_Body):
    name: Text100
    kind: PlanKind
    currency: str | None = Field(default=None, description="MARKUP: currency of markup_fixed")
    tariff: dict[str, Any] | None = Field(default=None, description="OCPI_TARIFF: an OCPI 2.2.1 Tariff")
    markup_percent: Decimal | None = Field(default=None, ge=-100, le=1000)
    markup_fixed: Decimal | None = Field(default=None, ge=0, le=1_000_000)

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str | None) -> str | None:
        return None if value is None else _currency(value)

    @model_validator(mode="after")
    def _by_kind(self) -> PlanIn:
        if self.kind == PlanKind.OCPI_TARIFF:
            if self.tariff is None or self.markup_percent is not None or self.markup_fixed is not None:
                raise ValueError("an OCPI_TARIFF plan has `tariff` and no markup fields")
            try:
                tariff = Tariff.model_validate(self.tariff)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                raise ValueError(f"tariff.{where}: {first.get('msg')}") from None
            try:
                cdr_pricing.compile_tariff(cdr_pricing.tariff_from_ocpi(tariff))
            except cdr_pricing.PricingError as exc:
                raise ValueError(f"tariff: {exc}") from None
            if self.currency is not None and self.currency != tariff.currency.upper():
                raise ValueError("currency differs from the tariff's currency")
            self.currency = _currency(tariff.currency)
        else:
            if self.tariff is not None or self.markup_percent is None:
                raise ValueError(
                    "a MARKUP plan has `markup_percent` (and optional `markup_fixed`), no tariff"
                )
            if self.markup_fixed and self.currency is None:
                raise ValueError("`currency` is required with `markup_fixed`")
        return self


class AssignmentIn(_Body):
    plan: Code
    scope: AssignmentScope
    subscription: Code | None = None
    country_code: Annotated[str, StringConstraints(min_length=2, max_length=2)] | None = None
    party_id: Annotated[str, StringConstraints(min_length=3, max_length=3)] | None = None
    location_id: Id36 | None = None
    evse_uid: Id36 | None = None
    location_group: Code | None = None

    @model_validator(mode="after")
    def _keys_of_scope(self) -> AssignmentIn:
        needed = {
            AssignmentScope.EVSE: {"country_code", "party_id", "location_id", "evse_uid"},
            AssignmentScope.LOCATION: {"country_code", "party_id", "location_id"},
            AssignmentScope.LOCATION_GROUP: {"location_group"},
            AssignmentScope.CPO_PARTY: {"country_code", "party_id"},
            AssignmentScope.SUBSCRIPTION: {"subscription"},
            AssignmentScope.DEFAULT: set(),
        }[self.scope]
        keys = {"country_code", "party_id", "location_id", "evse_uid", "location_group"}
        given = {k for k in keys if getattr(self, k) is not None}
        missing = needed - {k for k in needed if getattr(self, k) is not None}
        extra = given - needed
        if missing or extra:
            raise ValueError(
                f"scope {self.scope.value} takes {sorted(needed) or 'no keys'}"
                + (f"; missing {sorted(missing)}" if missing else "")
                + (f"; not used: {sorted(extra)}" if extra else "")
            )
        if self.scope == AssignmentScope.DEFAULT and self.subscription is not None:
            raise ValueError("a DEFAULT assignment is for everybody; use scope SUBSCRIPTION")
        return self


class ContractIn(_Body):
    subscription: Code
    customer_ref: Text100 | None = None


class GroupMemberIn(_Body):
    country_code: Annotated[str, StringConstraints(min_length=2, max_length=2)]
    party_id: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    location_id: Id36


class VatRateIn(_Body):
    rate_percent: Decimal = Field(ge=0, le=100)
    valid_from: datetime = EPOCH

    @field_validator("valid_from")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return to_utc(value)  # type: ignore[no-any-return]


class FxRateIn(_Body):
    base_currency: str
    quote_currency: str
    rate: Decimal = Field(gt=0, le=Decimal("1e9"))
    valid_from: datetime
    source: Text100 | None = None

    @field_validator("base_currency", "quote_currency")
    @classmethod
    def _check(cls, value: str) -> str:
        return _currency(value)

    @field_validator("valid_from")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return to_utc(value)  # type: ignore[no-any-return]

    @model_validator(mode="after")
    def _pair(self) -> FxRateIn:
        if self.base_currency == self.quote_currency:
            raise ValueError("base_currency and quote_currency must differ")
        return self


def checked_country(code: str) -> str:
    """ISO 3166 alpha-2 of an alpha-2 or alpha-3 code, or ValueError."""
    alpha2 = country_alpha2(code)
    if alpha2 is None:
        raise ValueError(f"{code!r} is not an ISO 3166 country code")
    return alpha2
