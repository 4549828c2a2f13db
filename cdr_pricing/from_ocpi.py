"""Map OCPI 2.2.1 Tariff and CDR objects to the internal values, once, at the edge.

Accepts plain JSON dicts (as in the spec's examples, numbers as int, float or string) and pydantic
models that have `model_dump()` (such as `ocpi.models.Tariff` / `ocpi.models.Cdr`): a model is dumped to
Python values and read by the same code, so both paths agree. Floats are read through `str`, so 0.1 stays
Decimal('0.1'). Malformed input raises `InvalidTariff` or `InvalidCdr` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from cdr_pricing.errors import InvalidCdr, InvalidTariff, PricingError
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
from ocpi.types import to_utc

__all__ = ["cdr_from_ocpi", "tariff_from_ocpi"]

_T = TypeVar("_T")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DATE = re.compile(r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")

# CdrDimensionType -> ChargingPeriod field. Volumes of a repeated dimension are added; for currents and
# powers the widest value is kept. Session-only or unknown dimensions are ignored.
_ADDITIVE = {
    "ENERGY": "energy",
    "TIME": "time",
    "PARKING_TIME": "parking_time",
    "RESERVATION_TIME": "reservation_time",
}
_HIGHEST = {"MAX_CURRENT": "max_current", "MAX_POWER": "max_power"}
_LOWEST = {"MIN_CURRENT": "min_current", "MIN_POWER": "min_power"}
_LATEST = {"CURRENT": "current", "POWER": "power"}


def _plain(obj: Any) -> Any:
    """A pydantic model (or anything with `model_dump`) as plain Python data; enums as their values."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump()
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def _number(value: Any, where: str, error: type[PricingError]) -> Decimal:
    if isinstance(value, bool):
        raise error(f"{where}: expected a number, got {value!r}")
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise error(f"{where}: expected a number, got {value!r}") from exc


def _optional_number(
    data: Mapping[str, Any], key: str, where: str, error: type[PricingError]
) -> Decimal | None:
    value = data.get(key)
    return None if value is None else _number(value, f"{where}.{key}", error)


def _datetime(value: Any, where: str, error: type[PricingError]) -> datetime:
    try:
        parsed = to_utc(value)
    except ValueError as exc:
        raise error(f"{where}: {exc}") from exc
    if not isinstance(parsed, datetime):
        raise error(f"{where}: expected a DateTime, got {value!r}")
    return parsed


def _enum(kind: Callable[[str], _T], value: Any, where: str, error: type[PricingError]) -> _T:
    try:
        return kind(str(value))
    except ValueError as exc:
        raise error(f"{where}: unknown value {value!r}") from exc


def _local_time(value: Any, where: str) -> time | None:
    if value is None:
        return None
    if isinstance(value, time):
        return value
    match = _TIME.match(str(value))
    if match is None:
        raise InvalidTariff(f"{where}: expected HH:MM (24h), got {value!r}")
    return time(int(match[1]), int(match[2]))


def _local_date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    if _DATE.match(str(value)) is None:
        raise InvalidTariff(f"{where}: expected YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidTariff(f"{where}: {exc}") from exc


def _int(value: Any, where: str, error: type[PricingError]) -> int:
    number = _number(value, where, error)
    if number != number.to_integral_value():
        raise error(f"{where}: expected an integer, got {value!r}")
    return int(number)


def _restrictions(data: Mapping[str, Any] | None, where: str) -> TariffRestrictions | None:
    if not data:
        return None
    reservation = data.get("reservation")

    def number(key: str) -> Decimal | None:
        return _optional_number(data, key, where, InvalidTariff)

    def seconds(key: str) -> int | None:
        return None if data.get(key) is None else _int(data[key], f"{where}.{key}", InvalidTariff)

    days = frozenset(
        _enum(DayOfWeek, day, f"{where}.day_of_week", InvalidTariff).iso_index
        for day in data.get("day_of_week") or ()
    )
    return TariffRestrictions(
        start_time=_local_time(data.get("start_time"), f"{where}.start_time"),
        end_time=_local_time(data.get("end_time"), f"{where}.end_time"),
        start_date=_local_date(data.get("start_date"), f"{where}.start_date"),
        end_date=_local_date(data.get("end_date"), f"{where}.end_date"),
        day_of_week=days,
        reservation=None
        if reservation is None
        else _enum(ReservationRestriction, reservation, f"{where}.reservation", InvalidTariff),
        min_kwh=number("min_kwh"),
        max_kwh=number("max_kwh"),
        min_current=number("min_current"),
        max_current=number("max_current"),
        min_power=number("min_power"),
        max_power=number("max_power"),
        min_duration=seconds("min_duration"),
        max_duration=seconds("max_duration"),
    )


def _component(data: Mapping[str, Any], where: str) -> PriceComponent:
    if "type" not in data or "price" not in data:
        raise InvalidTariff(f"{where}: type and price are required")
    step = data.get("step_size")
    return PriceComponent(
        type=_enum(TariffDimension, data["type"], f"{where}.type", InvalidTariff),
        price=_number(data["price"], f"{where}.price", InvalidTariff),
        vat=_optional_number(data, "vat", where, InvalidTariff),
        step_size=1 if step is None else _int(step, f"{where}.step_size", InvalidTariff),
    )


def _bound(data: Mapping[str, Any] | None, where: str) -> BoundPrice | None:
    if data is None:
        return None
    if data.get("excl_vat") is None:
        raise InvalidTariff(f"{where}.excl_vat is required")
    return BoundPrice(
        _number(data["excl_vat"], f"{where}.excl_vat", InvalidTariff),
        _optional_number(data, "incl_vat", where, InvalidTariff),
    )


def tariff_from_ocpi(obj: Mapping[str, Any] | Any) -> Tariff:
    """A Tariff (mod_tariffs 11.3.1) from a JSON dict or a pydantic model."""
    data = _plain(obj)
    if not isinstance(data, Mapping):
        raise InvalidTariff("a Tariff must be a JSON object")
    try:
        return _tariff(data)
    except (AttributeError, TypeError) as exc:
        raise InvalidTariff(f"malformed Tariff: {exc}") from exc


def _tariff(data: Mapping[str, Any]) -> Tariff:
    elements = []
    for i, element in enumerate(data.get("elements") or ()):
        where = f"elements[{i}]"
        components = tuple(
            _component(c, f"{where}.price_components[{j}]")
            for j, c in enumerate(element.get("price_components") or ())
        )
        elements.append(
            TariffElement(components, _restrictions(element.get("restrictions"), f"{where}.restrictions"))
        )
    valid_from, valid_to = data.get("start_date_time"), data.get("end_date_time")
    return Tariff(
        currency=str(data.get("currency") or ""),
        elements=tuple(elements),
        id=data.get("id"),
        country_code=data.get("country_code"),
        party_id=data.get("party_id"),
        min_price=_bound(data.get("min_price"), "min_price"),
        max_price=_bound(data.get("max_price"), "max_price"),
        start_date_time=None
        if valid_from is None
        else _datetime(valid_from, "start_date_time", InvalidTariff),
        end_date_time=None if valid_to is None else _datetime(valid_to, "end_date_time", InvalidTariff),
    )


def _period(data: Mapping[str, Any], where: str) -> ChargingPeriod:
    if data.get("start_date_time") is None:
        raise InvalidCdr(f"{where}.start_date_time is required")
    fields: dict[str, Decimal] = {}
    for k, dimension in enumerate(data.get("dimensions") or ()):
        kind = str(dimension.get("type"))
        volume = _number(dimension.get("volume"), f"{where}.dimensions[{k}].volume", InvalidCdr)
        if kind in _ADDITIVE:
            name = _ADDITIVE[kind]
            fields[name] = fields[name] + volume if name in fields else volume
        elif kind in _HIGHEST:
            fields[_HIGHEST[kind]] = max(fields.get(_HIGHEST[kind], volume), volume)
        elif kind in _LOWEST:
            fields[_LOWEST[kind]] = min(fields.get(_LOWEST[kind], volume), volume)
        elif kind in _LATEST:
            fields[_LATEST[kind]] = volume
    return ChargingPeriod(
        start_date_time=_datetime(data["start_date_time"], f"{where}.start_date_time", InvalidCdr),
        tariff_id=data.get("tariff_id"),
        **fields,
    )


def cdr_from_ocpi(obj: Mapping[str, Any] | Any, *, reservation_expired: bool | None = None) -> Cdr:
    """A CDR (mod_cdrs 10.3.1) from a JSON dict or a pydantic model.

    `reservation_expired` overrides the engine's own reading (see `Cdr.reservation_expired`).
    """
    data = _plain(obj)
    if not isinstance(data, Mapping):
        raise InvalidCdr("a CDR must be a JSON object")
    try:
        return _cdr(data, reservation_expired)
    except (AttributeError, TypeError) as exc:
        raise InvalidCdr(f"malformed CDR: {exc}") from exc


def _cdr(data: Mapping[str, Any], reservation_expired: bool | None) -> Cdr:
    for key in ("start_date_time", "end_date_time"):
        if data.get(key) is None:
            raise InvalidCdr(f"{key} is required")
    periods = tuple(
        _period(p, f"charging_periods[{i}]") for i, p in enumerate(data.get("charging_periods") or ())
    )
    total_energy = data.get("total_energy")
    return Cdr(
        start_date_time=_datetime(data["start_date_time"], "start_date_time", InvalidCdr),
        end_date_time=_datetime(data["end_date_time"], "end_date_time", InvalidCdr),
        charging_periods=periods,
        currency=data.get("currency"),
        id=data.get("id"),
        total_energy=None if total_energy is None else _number(total_energy, "total_energy", InvalidCdr),
        reservation_expired=reservation_expired,
    )
