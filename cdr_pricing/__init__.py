"""Pure CDR pricing under OCPI 2.2.1 Tariffs: (cdr, tariff, time_zone) -> priced breakdown.

ROLE. Recompute what a CDR costs under the CPO's Tariff (mod_tariffs, mod_cdrs), explain which element
priced which period, and reprice it for the MSP (markup, currency). Pure functions over immutable values:
`Decimal` only, no IO, no clock, no settings, no database. Wire objects (JSON dicts or `ocpi.models`) are
mapped to the values of `values.py` once, by `from_ocpi`.

IMPORT RULE. `cdr_pricing` imports only the standard library and `ocpi` (never `partners`, never `emsp`);
`emsp` imports it. Enforced by import-linter (pyproject `[tool.importlinter]`).

ROUNDING AND VAT POLICY (the spec leaves rounding to the parties, ocpi/ocpi#401; this is ours, in `lines`):
1. Each applied price component's cost is exact: price x billed volume (TIME and PARKING_TIME prices
   are per hour, volumes are counted in seconds). Nothing is rounded per period.
2. Exact costs are summed per cost line = (cost component, VAT rate); cost components are FIXED (FLAT),
   RESERVATION, ENERGY, TIME, PARKING_TIME, i.e. the CDR's `total_*_cost` fields.
3. A line's excl-VAT amount is rounded once, at the end of the session, to the currency's minor unit
   (2 decimals; 0 for JPY, 3 for KWD ...), ROUND_HALF_UP (half away from zero).
4. VAT is applied per line on that ROUNDED excl-VAT amount: incl = round(excl x (1 + vat/100)), same
   rounding. A component without `vat` has no VAT: incl = excl (0% and "no VAT" price the same).
5. A component total is the sum of its lines; `total_cost` is the sum of the component totals, then
   clamped by `min_price` / `max_price` (excl and incl each by its own bound; `limits`). The clamp is
   reported as `price_limit_adjustment`, so total = sum of parts + adjustment, always, to the cent.
   Consequence: incl >= excl for every line and total when VAT rates and prices are >= 0.
6. Markup and currency conversion (`repricing`, `money.convert_currency`) apply to the rounded line
   amounts and round again by the same rule.

STEP SIZE. Once per session per dimension total, the extra billed at the last period's price; TIME and
PARKING_TIME are rounded as one (only the last of the two), as mod_cdrs says; see `step_size` for the
alternative reading of the mod_tariffs examples (`StepSizeRule.EACH_DIMENSION`).

TIME ZONES. CDR and period times are UTC; restrictions are evaluated in the Location's local time
(`zoneinfo`, so DST gaps and overlaps follow the tz database). 2.2.1 CDRs carry no time zone: the caller
passes `Location.time_zone`; without one, `TimeZoneMissing`.

PERIODS. Each period is priced by the elements that match at its start; periods are not split at
restriction boundaries, because the CPO must already start a new period when another element becomes
active (mod_cdrs ChargingPeriod). See `restrictions` for the exact semantics of every restriction and
`engine` for FLAT (once per session), reservations, and a period's charging time when TIME is absent.

VALUES AND SPEED. Inputs (`values`) are frozen dataclasses. Results (`PricedCdr`, `Cost`, `CostLine`,
`PricedPeriod`, `AppliedComponent`) are immutable NamedTuples: one is built per CDR on the hot path and
a tuple is several times cheaper than a frozen dataclass; `PricedCdr.periods` and `.lines` are built on
demand. Price many CDRs with one `compile_tariff(tariff)` (done and memoised for you when a `Tariff` is
passed); `bench/bench_pricing.py` measures it. Compiling also evaluates every element's time window and
weekdays once for the whole week (`week_table`): per period the engine finds its stretch of the week with
one `bisect` and checks only the other restrictions (`restrictions.CompiledRestrictions.residual`) of the
few elements left. Pricing runs in a private copy of the exact Decimal context (`money.EXACT`), made
current for the call and replaced by the caller's context afterwards.
"""

from __future__ import annotations

from cdr_pricing.compiled import CompiledTariff, compile_tariff
from cdr_pricing.engine import load_time_zone, price_cdr
from cdr_pricing.errors import (
    InvalidCdr,
    InvalidTariff,
    NoValidTariff,
    PricingError,
    TimeZoneMissing,
    UnknownTimeZone,
)
from cdr_pricing.from_ocpi import cdr_from_ocpi, tariff_from_ocpi
from cdr_pricing.json_api import price_cdr_json, priced_cdr_totals_json
from cdr_pricing.money import Cost, convert_currency, minor_unit, round_money
from cdr_pricing.repricing import convert_priced_cdr, reprice_with_markup
from cdr_pricing.result import AppliedComponent, CostComponent, CostLine, PricedCdr, PricedPeriod
from cdr_pricing.step_size import StepSizeRule
from cdr_pricing.values import (
    BoundPrice,
    Cdr,
    ChargingPeriod,
    DayOfWeek,
    PriceComponent,
    ReservationRestriction,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
)

__all__ = [
    "AppliedComponent",
    "BoundPrice",
    "Cdr",
    "ChargingPeriod",
    "CompiledTariff",
    "Cost",
    "CostComponent",
    "CostLine",
    "DayOfWeek",
    "InvalidCdr",
    "InvalidTariff",
    "NoValidTariff",
    "PriceComponent",
    "PricedCdr",
    "PricedPeriod",
    "PricingError",
    "ReservationRestriction",
    "StepSizeRule",
    "Tariff",
    "TariffDimension",
    "TariffElement",
    "TariffRestrictions",
    "TimeZoneMissing",
    "UnknownTimeZone",
    "cdr_from_ocpi",
    "compile_tariff",
    "convert_currency",
    "convert_priced_cdr",
    "load_time_zone",
    "minor_unit",
    "price_cdr",
    "price_cdr_json",
    "priced_cdr_totals_json",
    "reprice_with_markup",
    "round_money",
    "tariff_from_ocpi",
]
