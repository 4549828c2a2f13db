"""Every example message of the OCPI 2.2.1 spec parses into its model and writes back the same JSON.

The files in `tests/fixtures/ocpi_examples/` are the spec's own, unmodified. "The same JSON" is compared
after normalising: DateTime strings as instants (a missing zone is UTC), numbers as Decimal. Two examples
contradict the spec text; they are checked to be rejected for exactly those reasons, and the repaired
message (built here from the parsed file, not edited on disk) round-trips.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ocpi.envelope import OcpiResponse
from ocpi.models import (
    EVSE,
    Cdr,
    ConnectorPatch,
    Credentials,
    DisplayText,
    EvsePatch,
    Hours,
    Location,
    LocationPatch,
    OcpiModel,
    Price,
    Session,
    SessionPatch,
    Tariff,
    TariffPatch,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
)

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "ocpi_examples"

# Fragments of a Location (`{"energy_mix": ...}`, `{"opening_times": ...}`) parse as the partial Location.
MODEL_BY_FILE: dict[str, Any] = {
    "cdr_example.json": Cdr,
    "credentials_example.json": Credentials,
    "credentials_example2.json": Credentials,
    "credentials_example3.json": Credentials,
    "credentials_example4.json": Credentials,
    "location_energymix_example_complete.json": LocationPatch,
    "location_energymix_example_energy_provider.json": LocationPatch,
    "location_energymix_example_simple.json": LocationPatch,
    "location_example.json": Location,
    "location_example_parking_garage_opening_hours.json": Location,
    "location_example_uc2_destination_charger.json": Location,
    "location_example_uc3_destination_charger_not_published.json": Location,
    "location_example_uc4_limited_visibility.json": Location,
    "location_example_uc5_home_charge_point.json": Location,
    "location_hours_247_open_exception_closing.json": Hours,
    "location_hours_opening_hours_with_exceptional_closing.json": Hours,
    "location_hours_opening_hours_with_exceptional_opening.json": Hours,
    "location_patch_example_location.json": LocationPatch,
    "location_patch_example_remove_evse.json": EvsePatch,
    "location_patch_example_status.json": EvsePatch,
    "location_patch_example_tariff.json": ConnectorPatch,
    "location_put_example_add_evse.json": EVSE,
    "location_regularhours_example.json": LocationPatch,
    "session_example_1_simple_start.json": Session,
    "session_example_2_short_finished.json": Session,
    "session_patch_example_charging_period.json": SessionPatch,
    "session_patch_example_total_cost.json": SessionPatch,
    "tariff_10_025kwh_parking_start.json": Tariff,
    "tariff_11_not_possible_alt_text.json": Tariff,
    "tariff_12_025kwh_min_price.json": Tariff,
    "tariff_13_simple_3hour_5parking.json": Tariff,
    "tariff_14_step_size.json": Tariff,
    "tariff_15_reservation_5_euro_per_hour.json": Tariff,
    "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json": Tariff,
    "tariff_17_reservation_with_expire_fee.json": Tariff,
    "tariff_18_reservation_with_expire_time.json": Tariff,
    "tariff_1_simple_2hour.json": Tariff,
    "tariff_2_alt_text.json": Tariff,
    "tariff_3_alt_url.json": Tariff,
    "tariff_4_complex.json": Tariff,
    "tariff_5_free_of_charge.json": Tariff,
    "tariff_6_025kwh_start_max_price.json": Tariff,
    "tariff_8_simple_025kwh.json": Tariff,
    "tariff_9_025kwh_start.json": Tariff,
    "tariff_put_example.json": Tariff,
    "tariffrestriction_example_max_duration.json": Tariff,
    "tariffrestriction_example_max_power.json": Tariff,
    "token_example_1_app_user.json": Token,
    "token_example_2_full_rfid.json": Token,
    "token_patch_example.json": TokenPatch,
    "token_put_example.json": Token,
    "transport_and_format_get_token_example.json": OcpiResponse[Token],
    "transport_and_format_get_token_list_example.json": OcpiResponse[list[Token]],
    "transport_and_format_version_details_example.json": OcpiResponse[VersionDetails],
    "transport_and_format_version_info_example.json": OcpiResponse[list[Version]],
    "type_displaytext_example.json": DisplayText,
    "version_details_example.json": VersionDetails,
    "version_details_example2.json": VersionDetails,
    "versions_info_example.json": list[Version],
}

# Examples that contradict the spec text: the (location, error type) pydantic reports for each.
CONTRADICTIONS: dict[str, set[tuple[tuple[str | int, ...], str]]] = {
    # 8.2.2.2 "add an EVSE": the Connector lacks power_type, max_voltage, max_amperage and last_updated
    # (all cardinality 1, 8.3.3); physical_reference is the number 3, not a string(16); and it sends
    # `floor` (an unknown field, ignored) where 8.3.2 has `floor_level`.
    "location_put_example_add_evse.json": {
        (("connectors", 0, "power_type"), "missing"),
        (("connectors", 0, "max_voltage"), "missing"),
        (("connectors", 0, "max_amperage"), "missing"),
        (("connectors", 0, "last_updated"), "missing"),
        (("physical_reference",), "string_type"),
    },
    # 11.2.2.2 PUT example: the Tariff has no last_updated (cardinality 1, 11.3.1).
    "tariff_put_example.json": {(("last_updated",), "missing")},
}

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def _example_files() -> list[str]:
    return sorted(path.name for path in EXAMPLES.glob("*.json"))


def _load(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal)


def normalise(value: Any) -> Any:
    """JSON value -> comparable value: DateTime strings become aware UTC datetimes, numbers Decimal."""
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return ("number", Decimal(str(value)).normalize())
    if isinstance(value, str) and _DATETIME.match(value):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return ("instant", parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return value


def datetime_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in datetime_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in datetime_strings(item)]
    return [value] if isinstance(value, str) and _DATETIME.match(value) else []


def round_trip(target: Any, body: str | bytes) -> tuple[Any, Any]:
    """Parse `body` as `target`, write it back as JSON text; return (parsed object, re-read JSON)."""
    adapter: TypeAdapter[Any] = TypeAdapter(target)
    parsed = adapter.validate_json(body)
    written = adapter.dump_python(parsed, mode="json", exclude_none=True)
    if isinstance(parsed, OcpiModel):
        assert parsed.to_json() == written
    return parsed, _load(json.dumps(written))


def assert_equivalent(original: Any, written: Any) -> None:
    assert normalise(written) == normalise(original)
    assert all(s.endswith("Z") for s in datetime_strings(written)), datetime_strings(written)


def test_all_59_examples_are_mapped() -> None:
    files = _example_files()
    assert len(files) == 59
    assert set(files) == set(MODEL_BY_FILE)


@pytest.mark.parametrize("name", [n for n in _example_files() if n not in CONTRADICTIONS])
def test_example_round_trips(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    _, written = round_trip(MODEL_BY_FILE[name], text)
    assert_equivalent(_load(text), written)


@pytest.mark.parametrize("name", sorted(CONTRADICTIONS))
def test_example_contradicting_the_spec_is_rejected_for_exactly_that(name: str) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(MODEL_BY_FILE[name]).validate_json(text)
    assert {(err["loc"], err["type"]) for err in caught.value.errors()} == CONTRADICTIONS[name]


def test_add_evse_example_round_trips_once_repaired() -> None:
    body = json.loads((EXAMPLES / "location_put_example_add_evse.json").read_text(encoding="utf-8"))
    body["floor_level"] = str(body.pop("floor"))
    body["physical_reference"] = str(body["physical_reference"])
    body["connectors"][0].update(
        power_type="AC_3_PHASE", max_voltage=230, max_amperage=16, last_updated=body["last_updated"]
    )
    text = json.dumps(body)
    evse, written = round_trip(EVSE, text)
    assert_equivalent(_load(text), written)
    assert evse.floor_level == "-1"


def test_add_evse_example_keeps_what_it_can_as_a_patch_of_plain_fields() -> None:
    body = _load((EXAMPLES / "location_put_example_add_evse.json").read_text(encoding="utf-8"))
    body.pop("connectors")
    body.pop("physical_reference")
    patch = EvsePatch.model_validate(body)
    assert patch.uid == "3256"
    assert "floor" not in patch.to_json()  # unknown fields are ignored


def test_tariff_put_example_is_a_valid_partial_tariff_and_round_trips_once_dated() -> None:
    text = (EXAMPLES / "tariff_put_example.json").read_text(encoding="utf-8")
    partial, written = round_trip(TariffPatch, text)
    assert partial.last_updated is None
    assert_equivalent(_load(text), written)
    body = json.loads(text) | {"last_updated": "2015-06-29T20:39:09Z"}  # plain floats: valid JSON numbers
    _, written = round_trip(Tariff, json.dumps(body))
    assert_equivalent(body, written)


def _token_body() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        (EXAMPLES / "token_example_2_full_rfid.json").read_text(encoding="utf-8")
    )
    return result


@pytest.mark.parametrize(
    ("field", "value", "error_type"),
    [
        ("uid", "x" * 37, "string_too_long"),  # CiString(36)
        ("country_code", "NLD", "string_too_long"),  # CiString(2)
        ("uid", "caf\u00e9", "string_pattern_mismatch"),  # CiString: printable ASCII only
        ("issuer", "y" * 65, "string_too_long"),  # string(64)
        ("type", "NFC", "enum"),
        ("whitelist", "always", "enum"),  # enum values are case sensitive
        ("last_updated", "29-06-2015", "value_error"),
    ],
)
def test_invalid_token_field_is_rejected(field: str, value: str, error_type: str) -> None:
    body = _token_body() | {field: value}
    with pytest.raises(ValidationError) as caught:
        Token.model_validate_json(json.dumps(body))
    assert [(err["loc"], err["type"]) for err in caught.value.errors()] == [((field,), error_type)]


@pytest.mark.parametrize(
    "field", ["uid", "type", "contract_id", "issuer", "valid", "whitelist", "last_updated"]
)
def test_token_without_a_required_field_is_rejected(field: str) -> None:
    body = _token_body()
    del body[field]
    with pytest.raises(ValidationError) as caught:
        Token.model_validate_json(json.dumps(body))
    assert [(err["loc"], err["type"]) for err in caught.value.errors()] == [((field,), "missing")]


def test_unknown_fields_are_ignored() -> None:
    body = _token_body() | {"x_custom": {"anything": [1, 2]}}
    token = Token.model_validate_json(json.dumps(body))
    assert "x_custom" not in token.to_json()


def test_float_money_is_read_as_the_exact_decimal() -> None:
    price = Price.model_validate_json('{"excl_vat": 0.1, "incl_vat": 4.40}')
    assert price.excl_vat == Decimal("0.1")
    assert isinstance(price.excl_vat, Decimal)
    assert price.incl_vat == Decimal("4.4")
    assert price.excl_vat + Decimal("0.2") == Decimal("0.3")  # not 0.30000000000000004
    assert Price.model_validate({"excl_vat": 0.1}).excl_vat == Decimal("0.1")  # from a Python float too
    assert json.dumps(price.to_json()) == '{"excl_vat": 0.1, "incl_vat": 4.4}'


def test_datetime_without_zone_is_read_as_utc_and_written_with_z() -> None:
    body = _token_body() | {"last_updated": "2015-06-29T20:39:09"}
    token = Token.model_validate_json(json.dumps(body))
    assert token.last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    assert token.to_json()["last_updated"] == "2015-06-29T20:39:09Z"


def test_datetime_with_fraction_and_offset_is_normalised_to_utc() -> None:
    body = _token_body() | {"last_updated": "2016-12-29T19:45:09.2+02:00"}
    token = Token.model_validate_json(json.dumps(body))
    assert token.to_json()["last_updated"] == "2016-12-29T17:45:09.200Z"


def test_absent_optional_lists_stay_absent() -> None:
    text = (EXAMPLES / "location_example_uc2_destination_charger.json").read_text(encoding="utf-8")
    location = Location.model_validate_json(text)
    assert location.facilities is None
    assert location.evses is not None
    assert "status_schedule" not in location.evses[0].to_json()


@settings(database=None, max_examples=200)
@given(
    amount=st.decimals(
        min_value=Decimal("-99999999999.9999"),  # 15 significant digits: exact as a JSON double
        max_value=Decimal("99999999999.9999"),
        places=4,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_money_survives_the_json_round_trip_exactly(amount: Decimal) -> None:
    written = json.dumps(Price(excl_vat=amount).to_json())
    assert Price.model_validate_json(written).excl_vat == amount
    assert _load(written)["excl_vat"] == amount


@settings(database=None, max_examples=200)
@given(moment=st.datetimes(timezones=st.just(UTC)))
def test_datetimes_survive_the_json_round_trip_to_the_millisecond(moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    body = _token_body() | {"last_updated": moment.isoformat()}
    written = Token.model_validate_json(json.dumps(body)).to_json()["last_updated"]
    assert written.endswith("Z")
    assert Token.model_validate_json(json.dumps(body | {"last_updated": written})).last_updated == moment
