"""Helpers for the cdr_pricing tests: spec examples, golden cases, and small CDR/Tariff builders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
# The spec's example files: copied into the test fixtures by the ocpi helper; the shared copy otherwise.
EXAMPLE_DIRS = (HERE.parent / "fixtures" / "ocpi_examples", Path("/work/shared/ocpi-2.2.1/examples"))


def load_example(name: str) -> dict[str, Any]:
    """A spec example (OCPI 2.2.1, © EVRoaming Foundation, CC BY-ND 4.0), read unmodified."""
    for directory in EXAMPLE_DIRS:
        path = directory / name
        if path.is_file():
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data
    pytest.skip(f"spec example {name} not found in {[str(d) for d in EXAMPLE_DIRS]}")


@dataclass(frozen=True)
class GoldenCase:
    name: str
    tariff: dict[str, Any]
    cdr: dict[str, Any]
    expected: dict[str, Any]
    time_zone: str
    step_size_rule: str | None
    note: str


def golden_case_names() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())


def load_golden(name: str) -> GoldenCase:
    directory = GOLDEN / name
    meta = json.loads((directory / "case.json").read_text(encoding="utf-8"))
    cdr = json.loads((directory / "cdr.json").read_text(encoding="utf-8"))
    kind, _, ref = meta["tariff"].partition(":")
    if kind == "example":
        tariff = load_example(ref)
    elif kind == "file":
        tariff = json.loads((directory / ref).read_text(encoding="utf-8"))
    else:
        raise ValueError(f"{name}: unknown tariff reference {meta['tariff']!r}")
    return GoldenCase(
        name=name,
        tariff=tariff,
        cdr=cdr,
        expected=json.loads((directory / "expected.json").read_text(encoding="utf-8")),
        time_zone=meta["time_zone"],
        step_size_rule=meta.get("step_size_rule"),
        note=meta["note"],
    )


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local(text: str, zone: str = "Europe/Amsterdam") -> datetime:
    """A local wall-clock time in `zone` as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def make_cdr(
    start: datetime,
    periods: list[tuple[float, dict[str, Any]]],
    end_minutes: float,
    *,
    currency: str = "EUR",
) -> dict[str, Any]:
    """A minimal CDR dict: periods are (minutes after `start`, {dimension type: volume}).

    Offsets are real elapsed minutes (UTC arithmetic), also across a DST change.
    """
    start = start.astimezone(UTC)
    return {
        "id": "T1",
        "currency": currency,
        "start_date_time": iso(start),
        "end_date_time": iso(start + timedelta(minutes=end_minutes)),
        "charging_periods": [
            {
                "start_date_time": iso(start + timedelta(minutes=offset)),
                "dimensions": [{"type": kind, "volume": volume} for kind, volume in dims.items()],
            }
            for offset, dims in periods
        ],
    }


def make_tariff(*elements: dict[str, Any], currency: str = "EUR", **extra: Any) -> dict[str, Any]:
    base = {
        "country_code": "NL",
        "party_id": "CPO",
        "id": "T",
        "currency": currency,
        "elements": list(elements),
    }
    return base | extra


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def component(kind: str, price: float | str, step_size: int = 1, vat: float | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "price": price, "step_size": step_size}
    if vat is not None:
        data["vat"] = vat
    return data
