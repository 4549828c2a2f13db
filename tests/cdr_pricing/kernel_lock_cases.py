"""Generated (tariff, CDR, time zone, step_size rule) cases whose full pricing output is locked.

`golden/kernel_lock.json` holds, per case, the total cost (readable) and a SHA-256 of everything
`price_cdr` returns (every `PricedCdr` field, the explanations `periods` and `lines`, and for a rejected
CDR the error class and message), Decimals written with `str` so that a changed exponent also counts as a
change. It was produced by the pricing code as it was BEFORE the kernel optimisation of the bench target,
and locks that behaviour: regenerate it only for an intended change of results, with

    .venv/bin/python -m tests.cdr_pricing.kernel_lock_cases --write

(The file in the tree was written with the package as committed before that optimisation, put first on
`sys.path` from a `git archive` of it; its outcomes are those of the optimised package too.)

The cases are drawn from a seeded `random.Random`, so they are the same on every run: multi-element
tariffs with every kind of restriction (time windows that wrap, weekdays, dates, kWh, duration, current,
power, reservations), VAT and no VAT, step sizes, min/max price with and without incl_vat, EUR / JPY /
KWD; CDRs in zones with DST (dates around the changes), half-hour offsets, sessions longer than a week,
periods without TIME, reservation periods, and a few malformed CDRs.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cdr_pricing import (
    BoundPrice,
    Cdr,
    ChargingPeriod,
    PriceComponent,
    PricedCdr,
    PricingError,
    ReservationRestriction,
    StepSizeRule,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
    price_cdr,
)

LOCK_FILE = Path(__file__).parent / "golden" / "kernel_lock.json"
SEED = 20_240_221
TARIFFS = 40
CDRS_PER_TARIFF = 16

ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
    "America/Sao_Paulo",
    "Pacific/Chatham",
]
# Around the DST changes of 2024 (Europe, the US, Lord Howe), and plain days.
ANCHORS = [
    datetime(2024, 3, 31, 0, 0, tzinfo=UTC),
    datetime(2024, 10, 27, 0, 0, tzinfo=UTC),
    datetime(2024, 3, 10, 5, 0, tzinfo=UTC),
    datetime(2024, 11, 3, 4, 0, tzinfo=UTC),
    datetime(2024, 4, 6, 14, 0, tzinfo=UTC),
    datetime(2024, 10, 5, 15, 0, tzinfo=UTC),
    datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2024, 6, 15, 12, 0, tzinfo=UTC),
]
VATS = [None, Decimal(0), Decimal("5.5"), Decimal(9), Decimal(21), Decimal("25.5")]
STEPS = [0, 1, 60, 100, 300, 500, 900, 1000, 3600]


def _decimal(rng: random.Random, low: int, high: int, places: int) -> Decimal:
    return Decimal(rng.randint(low, high)).scaleb(-places)


def _maybe(rng: random.Random, chance: float) -> bool:
    return rng.random() < chance


def _restrictions(rng: random.Random) -> TariffRestrictions | None:
    if _maybe(rng, 0.3):
        return None
    fields: dict[str, Any] = {}
    if _maybe(rng, 0.5):
        fields["start_time"] = time(rng.randrange(24), rng.choice([0, 0, 15, 30]))
    if _maybe(rng, 0.5):
        fields["end_time"] = time(rng.randrange(24), rng.choice([0, 0, 30, 45]))
    if _maybe(rng, 0.3):
        fields["day_of_week"] = frozenset(rng.sample(range(7), rng.randint(1, 6)))
    if _maybe(rng, 0.1):
        fields["start_date"] = date(2024, rng.randint(1, 12), rng.randint(1, 28))
    if _maybe(rng, 0.1):
        fields["end_date"] = date(2024, rng.randint(1, 12), rng.randint(1, 28))
    if _maybe(rng, 0.2):
        fields["min_kwh"] = _decimal(rng, 0, 400, 1)
    if _maybe(rng, 0.2):
        fields["max_kwh"] = _decimal(rng, 0, 600, 1)
    if _maybe(rng, 0.2):
        fields["min_duration"] = rng.randint(0, 7200)
    if _maybe(rng, 0.2):
        fields["max_duration"] = rng.randint(600, 20_000)
    for name in ("min_current", "max_current", "min_power", "max_power"):
        if _maybe(rng, 0.08):
            fields[name] = _decimal(rng, 1, 150, 0)
    if _maybe(rng, 0.12):
        fields["reservation"] = rng.choice(list(ReservationRestriction))
    return TariffRestrictions(**fields)


def make_tariff(rng: random.Random) -> Tariff:
    elements = []
    for _ in range(rng.randint(1, 7)):
        kinds = rng.sample(list(TariffDimension), rng.randint(1, 4))
        components = tuple(
            PriceComponent(
                kind, _decimal(rng, 0, 50_000, rng.choice([2, 3, 4])), rng.choice(VATS), rng.choice(STEPS)
            )
            for kind in kinds
        )
        elements.append(TariffElement(components, _restrictions(rng)))
    if _maybe(rng, 0.6):  # a fallback element without restrictions, as real tariffs have
        kinds = rng.sample(list(TariffDimension), rng.randint(1, 4))
        elements.append(
            TariffElement(
                tuple(PriceComponent(k, _decimal(rng, 0, 9999, 4), rng.choice(VATS)) for k in kinds)
            )
        )

    def bound() -> BoundPrice | None:
        if not _maybe(rng, 0.25):
            return None
        excl = _decimal(rng, 0, 6000, 2)
        return BoundPrice(excl, excl * Decimal("1.21") if _maybe(rng, 0.5) else None)

    return Tariff(
        rng.choice(["EUR", "EUR", "EUR", "JPY", "KWD"]),
        tuple(elements),
        id=f"LOCK{rng.randrange(10**6)}",
        min_price=bound(),
        max_price=bound(),
    )


def _period(rng: random.Random, moment: datetime, minutes: int) -> ChargingPeriod:
    hours = (Decimal(minutes) / 60).quantize(Decimal("0.0001"))
    kind = rng.choice(["charging", "charging", "energy_only", "parking", "reservation", "mixed"])
    fields: dict[str, Any] = {}
    if kind in ("charging", "energy_only", "mixed"):
        fields["energy"] = _decimal(rng, 0, 60_000, 3)
    if kind in ("charging", "mixed"):
        fields["time"] = hours
    if kind in ("parking", "mixed"):
        fields["parking_time"] = hours if kind == "parking" else (hours / 2).quantize(Decimal("0.0001"))
    if kind == "reservation":
        fields["reservation_time"] = hours
        if _maybe(rng, 0.3):  # reservation time and charging in one period
            fields["energy"] = _decimal(rng, 0, 9000, 3)
    for name in ("min_current", "max_current", "current", "min_power", "max_power", "power"):
        if _maybe(rng, 0.15):
            fields[name] = _decimal(rng, 10, 1500, 1)
    return ChargingPeriod(moment, **fields)


def make_cdr(rng: random.Random, currency: str) -> Cdr:
    anchor = rng.choice(ANCHORS)
    start = anchor + timedelta(minutes=rng.randint(-600, 600))
    if _maybe(rng, 0.3):
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(366 * 86_400))
    moment, periods = start, []
    if _maybe(rng, 0.05):  # a period that starts before the session
        moment -= timedelta(minutes=5)
    for _ in range(rng.randint(0, 2) if _maybe(rng, 0.25) else 0):  # reservation time before charging
        minutes = rng.randint(1, 120)
        periods.append(
            ChargingPeriod(moment, reservation_time=(Decimal(minutes) / 60).quantize(Decimal("0.0001")))
        )
        moment += timedelta(minutes=minutes)
    for _ in range(rng.randint(1, 7)):
        minutes = rng.randint(0, 240)
        periods.append(_period(rng, moment, minutes))
        moment += timedelta(minutes=minutes, seconds=rng.choice([0, 0, 0, 17]))
    if _maybe(rng, 0.05):  # longer than a week
        moment += timedelta(days=8)
        periods.append(_period(rng, moment, 30))
    end = moment + timedelta(minutes=rng.randint(0, 30))
    if _maybe(rng, 0.03):  # malformed: a negative volume, or periods out of order
        periods[-1] = ChargingPeriod(periods[-1].start_date_time, energy=Decimal(1), time=Decimal("-0.5"))
    if _maybe(rng, 0.02) and len(periods) > 1:
        periods.reverse()
    expired = rng.choice([None, None, None, True, False])
    return Cdr(start, end, tuple(periods), currency=currency, reservation_expired=expired)


def cases() -> list[tuple[Tariff, Cdr, str, StepSizeRule]]:
    rng = random.Random(SEED)
    found = []
    for _ in range(TARIFFS):
        tariff = make_tariff(rng)
        for _ in range(CDRS_PER_TARIFF):
            found.append(
                (tariff, make_cdr(rng, tariff.currency), rng.choice(ZONES), rng.choice(list(StepSizeRule)))
            )
    return found


def _text(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal | datetime):
        return f"{type(value).__name__}:{value}"
    if isinstance(value, tuple | list):
        return [_text(v) for v in value]
    raise TypeError(f"cannot lock {type(value).__name__}")


def full_output(priced: PricedCdr) -> Any:
    """Everything `price_cdr` returned, as JSON-able text (Decimals with their exponent)."""
    fields = {name: _text(getattr(priced, name)) for name in PricedCdr._fields if name != "charging_periods"}
    fields["periods"] = _text(list(priced.periods))
    fields["lines"] = _text(list(priced.lines))
    return fields


def outcome(tariff: Tariff, cdr: Cdr, zone: str, rule: StepSizeRule) -> dict[str, Any]:
    try:
        priced = price_cdr(cdr, tariff, zone, step_size_rule=rule)
    except PricingError as exc:
        error = f"{type(exc).__name__}: {exc}"
        return {"error": error, "digest": hashlib.sha256(error.encode()).hexdigest()}
    text = json.dumps(full_output(priced), sort_keys=True)
    total = priced.total_cost
    return {
        "total_cost": f"{total.excl_vat} / {total.incl_vat}",
        "digest": hashlib.sha256(text.encode()).hexdigest(),
    }


def outcomes() -> list[dict[str, Any]]:
    return [outcome(*case) for case in cases()]


def main() -> None:
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.cdr_pricing.kernel_lock_cases --write")
    document = {
        "note": "Written by `python -m tests.cdr_pricing.kernel_lock_cases --write`; see that module.",
        "outcomes": outcomes(),
    }
    LOCK_FILE.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(document['outcomes'])} outcomes to {LOCK_FILE}")


if __name__ == "__main__":
    main()
