"""`price_cdr_json`: JSON in, JSON out, for the CLI (`emsp cdrs price`) and quick checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdr_pricing.engine import price_cdr
from cdr_pricing.from_ocpi import cdr_from_ocpi, tariff_from_ocpi
from cdr_pricing.money import Cost
from cdr_pricing.result import PricedCdr

__all__ = ["price_cdr_json", "priced_cdr_totals_json"]


def _json(cost: Cost | None) -> dict[str, str] | None:
    return None if cost is None else cost.as_json()


def priced_cdr_totals_json(priced: PricedCdr) -> dict[str, dict[str, str] | None]:
    """The six CDR cost fields as `{"excl_vat": "<decimal>", "incl_vat": "<decimal>"}` or None."""
    return {
        "total_cost": _json(priced.total_cost),
        "total_energy_cost": _json(priced.total_energy_cost),
        "total_time_cost": _json(priced.total_time_cost),
        "total_parking_cost": _json(priced.total_parking_cost),
        "total_fixed_cost": _json(priced.total_fixed_cost),
        "total_reservation_cost": _json(priced.total_reservation_cost),
    }


def price_cdr_json(
    tariff: Mapping[str, Any], cdr: Mapping[str, Any], time_zone: str | None
) -> dict[str, dict[str, str] | None]:
    """Price an OCPI CDR dict under an OCPI Tariff dict; see `priced_cdr_totals_json` for the shape."""
    return priced_cdr_totals_json(price_cdr(cdr_from_ocpi(cdr), tariff_from_ocpi(tariff), time_zone))
