"""CLI: `emsp cdrs price` (no database) on a spec tariff example and a CDR built here, and `emsp msp-cdrs
list|show|export` on the real database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from emsp.cli import app
from emsp.db import SessionMaker
from tests.conftest import FIXTURES
from tests.support.builders import make_partner
from tests.support.cdrs import cdr_json, post_cdr, setup_billing

runner = CliRunner()
SPEC_TARIFF = FIXTURES / "ocpi_examples" / "tariff_13_simple_3hour_5parking.json"


def _cdr_file(tmp_path: Path) -> Path:
    """1.5 h charging then 15 min parking (no step-size rounding needed: 5400 s, 900 s)."""
    body = cdr_json(
        start_date_time="2024-03-05T10:00:00Z",
        end_date_time="2024-03-05T11:45:00Z",
        charging_periods=[
            {
                "start_date_time": "2024-03-05T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 10}, {"type": "TIME", "volume": 1.5}],
            },
            {
                "start_date_time": "2024-03-05T11:30:00Z",
                "dimensions": [{"type": "PARKING_TIME", "volume": 0.25}],
            },
        ],
    )
    path = tmp_path / "cdr.json"
    path.write_text(json.dumps(body))
    return path


def test_price_prints_the_totals(tmp_path: Path) -> None:
    """Spec tariff 13: TIME 3.00/h (VAT 10 %), PARKING_TIME 5.00/h (VAT 20 %).
    1.5 h × 3.00 = 4.50 (4.95); 0.25 h × 5.00 = 1.25 (1.50); total 5.75 (6.45)."""
    cdr = _cdr_file(tmp_path)
    result = runner.invoke(
        app,
        ["cdrs", "price", "--tariff", str(SPEC_TARIFF), "--cdr", str(cdr), "--time-zone", "Europe/Berlin"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "total_cost": {"excl_vat": "5.75", "incl_vat": "6.45"},
        "total_energy_cost": None,
        "total_time_cost": {"excl_vat": "4.50", "incl_vat": "4.95"},
        "total_parking_cost": {"excl_vat": "1.25", "incl_vat": "1.50"},
        "total_fixed_cost": None,
        "total_reservation_cost": None,
    }
    without_zone = runner.invoke(app, ["cdrs", "price", "--tariff", str(SPEC_TARIFF), "--cdr", str(cdr)])
    assert json.loads(without_zone.output) == json.loads(result.output)  # no local-time restriction


def test_price_explains_what_is_wrong(tmp_path: Path) -> None:
    cdr = _cdr_file(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    cases = [
        (["--tariff", str(broken), "--cdr", str(cdr)], "cannot read the tariff file"),
        (["--tariff", str(SPEC_TARIFF), "--cdr", str(tmp_path / "missing.json")], "cannot read the CDR file"),
        (["--tariff", str(SPEC_TARIFF), "--cdr", str(cdr), "--time-zone", "Mars/Olympus"], "UnknownTimeZone"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["cdrs", "price", *args])
        assert result.exit_code == 1, result.output
        assert message in result.output


@pytest.fixture
async def billed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], sessionmaker: SessionMaker
) -> None:
    async with sessionmaker() as session:
        _, token = await make_partner(session, country_code="BE", party_id="BEC")
        await session.commit()
    await setup_billing(client, admin_headers)
    assert (await post_cdr(client, token, cdr_json())).status_code == 201


def _env(db_url: str) -> dict[str, Any]:
    return {"EMSP_DATABASE_URL": db_url, "EMSP_LOG_LEVEL": "WARNING"}


def test_msp_cdrs_list_show_export(billed: None, db_url: str, tmp_path: Path) -> None:
    listed = runner.invoke(app, ["msp-cdrs", "list", "--from", "2024-03-01", "--to", "2024-04-01", "--json"],
                           env=_env(db_url))  # fmt: skip
    assert listed.exit_code == 0, listed.output
    view = json.loads(listed.output)
    [item] = view["items"]
    assert (item["cdr_ref"], item["total_incl_vat"]) == ("CDR-1", "9.92")
    shown = runner.invoke(app, ["msp-cdrs", "show", str(item["id"]), "--json"], env=_env(db_url))
    assert json.loads(shown.output)["cpo_cdr"]["cdr"]["id"] == "CDR-1"
    out = tmp_path / "march.csv"
    exported = runner.invoke(
        app,
        [
            "msp-cdrs",
            "export",
            "--from",
            "2024-03-01",
            "--to",
            "2024-04-01",
            "--format",
            "csv",
            "-o",
            str(out),
        ],
        env=_env(db_url),
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["cdr_ref"], r["total_incl_vat"]) for r in rows] == [("CDR-1", "9.92")]
    as_json = runner.invoke(
        app, ["msp-cdrs", "export", "--format", "json", "--to", "2024-03-01"], env=_env(db_url)
    )
    assert json.loads(as_json.output) == []
    wrong = runner.invoke(
        app, ["msp-cdrs", "export", "--from", "2024-04-01", "--to", "2024-03-01"], env=_env(db_url)
    )
    assert wrong.exit_code == 1 and "--from must be before --to" in wrong.output
