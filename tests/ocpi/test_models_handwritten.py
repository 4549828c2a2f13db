"""Models the spec gives no example for (Commands, ChargingProfiles, AuthorizationInfo, HubClientInfo,
ChargingPreferences), with bodies written here from the spec text; plus the structural rules of
`ocpi.models` (Patch models mirror their object, the public names are all exported).
"""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import ocpi.models
from ocpi.envelope import OcpiResponse
from ocpi.models import (
    EVSE,
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    AllowedType,
    AuthorizationInfo,
    CancelReservation,
    Cdr,
    ChargingPreferences,
    ChargingPreferencesResponse,
    ChargingProfileResponse,
    ChargingProfileResponseType,
    ChargingProfileResult,
    ChargingProfileResultType,
    ChargingRateUnit,
    ClearProfileResult,
    ClientInfo,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    CommandResultType,
    ConnectionStatus,
    Connector,
    ConnectorPatch,
    EvsePatch,
    Location,
    LocationPatch,
    LocationReferences,
    ModuleID,
    PublishTokenType,
    ReserveNow,
    Role,
    Session,
    SessionPatch,
    SetChargingProfile,
    StartSession,
    StopSession,
    Tariff,
    TariffPatch,
    Token,
    TokenPatch,
    UnlockConnector,
    VersionDetails,
    VersionNumber,
)

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "ocpi_examples"

TOKEN = {
    "country_code": "NL",
    "party_id": "EMS",
    "uid": "04A1B2C3D4E5F6",
    "type": "RFID",
    "contract_id": "NL-EMS-C00000001-X",
    "issuer": "Example eMSP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2024-03-01T10:00:00Z",
}


def as_json(body: dict[str, Any]) -> str:
    return json.dumps(body)


def reread(model: BaseModel) -> Any:
    """What a peer reads back: the written JSON text, numbers as Decimal."""
    return json.loads(json.dumps(model.model_dump(mode="json", exclude_none=True)), parse_float=Decimal)


def assert_round_trip(model_type: type[BaseModel], body: dict[str, Any]) -> Any:
    parsed = model_type.model_validate_json(as_json(body))
    assert reread(parsed) == json.loads(as_json(body), parse_float=Decimal)
    return parsed


# --- Tokens: real-time authorization (12.2.2.2, 12.3.1) ---------------------------------------------


def test_authorization_request_body_and_answer() -> None:
    request = assert_round_trip(LocationReferences, {"location_id": "LOC1", "evse_uids": ["3256", "3257"]})
    assert request.evse_uids == ["3256", "3257"]
    answer = assert_round_trip(
        AuthorizationInfo,
        {
            "allowed": "ALLOWED",
            "token": TOKEN,
            "location": {"location_id": "LOC1", "evse_uids": ["3256"]},
            "authorization_reference": "f3c5a1d2-0b8e-4c1a-9d7e-5a2b3c4d5e6f",
            "info": {"language": "en", "text": "Enjoy charging"},
        },
    )
    assert answer.allowed is AllowedType.ALLOWED
    assert isinstance(answer.token, Token)


def test_minimal_authorization_answer_and_blocked_token() -> None:
    info = assert_round_trip(AuthorizationInfo, {"allowed": "BLOCKED", "token": TOKEN})
    assert info.location is None
    with pytest.raises(ValidationError):
        AuthorizationInfo.model_validate_json(as_json({"allowed": "MAYBE", "token": TOKEN}))


def test_location_references_ignores_the_2_2_connector_ids() -> None:
    refs = LocationReferences.model_validate_json(as_json({"location_id": "L", "connector_ids": ["1"]}))
    assert refs.to_json() == {"location_id": "L"}


# --- Commands (13) -------------------------------------------------------------------------------


def test_start_session_command() -> None:
    command = assert_round_trip(
        StartSession,
        {
            "response_url": "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/42",
            "token": TOKEN | {"type": "APP_USER", "whitelist": "NEVER"},
            "location_id": "LOC1",
            "evse_uid": "3256",
            "connector_id": "1",
            "authorization_reference": "auth-42",
        },
    )
    assert command.token.type == "APP_USER"


def test_start_session_connector_needs_an_evse() -> None:
    body = {
        "response_url": "https://e.example/r/1",
        "token": TOKEN,
        "location_id": "LOC1",
        "connector_id": "1",
    }
    with pytest.raises(ValidationError, match="evse_uid is required"):
        StartSession.model_validate_json(as_json(body))


def test_the_other_commands() -> None:
    url = "https://emsp.example.com/ocpi/2.2.1/commands/X/7"
    assert_round_trip(StopSession, {"response_url": url, "session_id": "SESSION-1"})
    assert_round_trip(CancelReservation, {"response_url": url, "reservation_id": "R-1"})
    assert_round_trip(
        UnlockConnector, {"response_url": url, "location_id": "LOC1", "evse_uid": "3256", "connector_id": "2"}
    )
    reserve = assert_round_trip(
        ReserveNow,
        {
            "response_url": url,
            "token": TOKEN,
            "expiry_date": "2024-03-01T12:30:00Z",
            "reservation_id": "R-2",
            "location_id": "LOC1",
            "evse_uid": "3256",
        },
    )
    assert reserve.expiry_date.tzinfo is not None
    with pytest.raises(ValidationError):
        StopSession.model_validate_json(as_json({"response_url": url}))


def test_command_response_and_result() -> None:
    response = assert_round_trip(
        CommandResponse,
        {"result": "ACCEPTED", "timeout": 30, "message": [{"language": "en", "text": "Sent to the charger"}]},
    )
    assert response.result is CommandResponseType.ACCEPTED
    result = assert_round_trip(CommandResult, {"result": "EVSE_OCCUPIED"})
    assert result.result is CommandResultType.EVSE_OCCUPIED
    with pytest.raises(ValidationError):
        CommandResponse.model_validate_json(as_json({"result": "ACCEPTED"}))  # timeout is required


def test_command_response_in_its_envelope() -> None:
    body = {
        "data": {"result": "UNKNOWN_SESSION", "timeout": 0},
        "status_code": 1000,
        "timestamp": "2024-03-01T10:00:00Z",
    }
    envelope = OcpiResponse[CommandResponse].model_validate_json(as_json(body))
    assert envelope.data is not None
    assert envelope.data.result is CommandResponseType.UNKNOWN_SESSION
    assert reread(envelope) == body


# --- Charging profiles (14) ------------------------------------------------------------------------

PROFILE = {
    "start_date_time": "2024-03-01T10:00:00Z",
    "duration": 3600,
    "charging_rate_unit": "W",
    "min_charging_rate": 1400.5,
    "charging_profile_period": [
        {"start_period": 0, "limit": 11000},
        {"start_period": 1800, "limit": 7400.5},
    ],
}


def test_set_charging_profile_and_direct_response() -> None:
    request = assert_round_trip(
        SetChargingProfile,
        {"charging_profile": PROFILE, "response_url": "https://emsp.example.com/ocpi/2.2.1/cp/1"},
    )
    assert request.charging_profile.charging_rate_unit is ChargingRateUnit.W
    periods = request.charging_profile.charging_profile_period
    assert periods is not None
    assert periods[1].limit == Decimal("7400.5")
    response = assert_round_trip(ChargingProfileResponse, {"result": "TOO_OFTEN", "timeout": 60})
    assert response.result is ChargingProfileResponseType.TOO_OFTEN


def test_asynchronous_charging_profile_results() -> None:
    active = assert_round_trip(
        ActiveChargingProfileResult,
        {
            "result": "ACCEPTED",
            "profile": {
                "start_date_time": "2024-03-01T10:05:00Z",
                "charging_profile": {
                    "charging_rate_unit": "A",
                    "charging_profile_period": [{"start_period": 0, "limit": 16}],
                },
            },
        },
    )
    assert active.profile is not None
    assert_round_trip(ChargingProfileResult, {"result": "REJECTED"})
    cleared = assert_round_trip(ClearProfileResult, {"result": "UNKNOWN"})
    assert cleared.result is ChargingProfileResultType.UNKNOWN
    update = assert_round_trip(
        ActiveChargingProfile,
        {"start_date_time": "2024-03-01T10:10:00Z", "charging_profile": {"charging_rate_unit": "W"}},
    )
    assert update.charging_profile.charging_profile_period is None


def test_charging_rate_accepts_at_most_one_decimal() -> None:
    body = PROFILE | {"charging_profile_period": [{"start_period": 0, "limit": 16.25}]}
    with pytest.raises(ValidationError) as caught:
        SetChargingProfile.model_validate_json(
            as_json({"charging_profile": body, "response_url": "https://x"})
        )
    assert caught.value.errors()[0]["type"] == "decimal_max_places"


# --- Hub client info (15) --------------------------------------------------------------------------


def test_client_info() -> None:
    info = assert_round_trip(
        ClientInfo,
        {
            "party_id": "ALL",
            "country_code": "NL",
            "role": "CPO",
            "status": "PLANNED",
            "last_updated": "2024-03-01T10:00:00Z",
        },
    )
    assert info.role is Role.CPO
    assert info.status is ConnectionStatus.PLANNED


def test_client_info_of_the_spec_text_lacks_last_updated() -> None:
    # 15.3.1.2 shows {"country_code": "NL", "party_id": "ALL", "role": "CPO", "status": "PLANNED",}:
    # a trailing comma, and no last_updated although 15.4.1 requires it.
    body = {"country_code": "NL", "party_id": "ALL", "role": "CPO", "status": "PLANNED"}
    with pytest.raises(ValidationError) as caught:
        ClientInfo.model_validate_json(as_json(body))
    assert [err["loc"] for err in caught.value.errors()] == [("last_updated",)]


# --- Sessions: charging preferences (9.3.2, 9.4.1) -------------------------------------------------


def test_charging_preferences_and_response() -> None:
    preferences = assert_round_trip(
        ChargingPreferences,
        {"profile_type": "FAST", "departure_time": "2024-03-01T18:00:00Z", "energy_need": 32.5},
    )
    assert preferences.energy_need == Decimal("32.5")
    assert preferences.discharge_allowed is None
    envelope = OcpiResponse[ChargingPreferencesResponse].model_validate_json(
        as_json({"data": "DEPARTURE_REQUIRED", "status_code": 1000, "timestamp": "2024-03-01T10:00:00Z"})
    )
    assert envelope.data is ChargingPreferencesResponse.DEPARTURE_REQUIRED


# --- Rules the spec states beyond types ------------------------------------------------------------


def test_credit_cdr_must_reference_the_credited_cdr() -> None:
    body = json.loads((EXAMPLES / "cdr_example.json").read_text(encoding="utf-8"))
    Cdr.model_validate_json(as_json(body | {"credit": True, "credit_reference_id": "12345"}))
    with pytest.raises(ValidationError, match="credit_reference_id is required"):
        Cdr.model_validate_json(as_json(body | {"id": "12345-C", "credit": True}))


@pytest.mark.parametrize(
    "body",
    [{"type": "RFID"}, {"uid": "12345678905880"}, {"visual_number": "0123456-99"}],
)
def test_publish_token_must_identify_a_token(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        PublishTokenType.model_validate(body)


def test_open_enums_keep_unknown_versions_and_custom_modules() -> None:
    details = VersionDetails.model_validate_json(
        as_json(
            {
                "version": "2.3.0",
                "endpoints": [
                    {"identifier": "tokens", "role": "RECEIVER", "url": "https://x.example/tokens"},
                    {"identifier": "nltnm-tokens", "role": "SENDER", "url": "https://x.example/custom"},
                ],
            }
        )
    )
    assert details.version == "2.3.0"
    assert details.endpoints[0].identifier is ModuleID.TOKENS
    assert details.endpoints[1].identifier == "nltnm-tokens"
    known = VersionDetails.model_validate({"version": "2.2.1", "endpoints": details.endpoints})
    assert known.version is VersionNumber.V2_2_1


def test_geo_coordinates_follow_the_spec_regex() -> None:
    body = json.loads((EXAMPLES / "location_example.json").read_text(encoding="utf-8"))
    with pytest.raises(ValidationError):
        Location.model_validate(body | {"coordinates": {"latitude": "51.04", "longitude": "3.729944"}})


# --- Structure of ocpi.models ----------------------------------------------------------------------

PATCH_OF = [
    (TokenPatch, Token),
    (LocationPatch, Location),
    (EvsePatch, EVSE),
    (ConnectorPatch, Connector),
    (SessionPatch, Session),
    (TariffPatch, Tariff),
]


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key not in {"title", "default", "description"}}


@pytest.mark.parametrize(("patch", "full"), PATCH_OF, ids=[p.__name__ for p, _ in PATCH_OF])
def test_patch_model_mirrors_its_object(patch: type[BaseModel], full: type[BaseModel]) -> None:
    assert list(patch.model_fields) == list(full.model_fields)
    assert all(not field.is_required() for field in patch.model_fields.values())
    patch_props = patch.model_json_schema()["properties"]
    full_props = full.model_json_schema()["properties"]
    for name, full_schema in full_props.items():
        expected = _strip(full_schema)
        if {"type": "null"} not in expected.get("anyOf", []):
            options = expected["anyOf"] if list(expected) == ["anyOf"] else [expected]
            expected = {"anyOf": [*options, {"type": "null"}]}
        assert _strip(patch_props[name]) == expected, name


def test_patch_keeps_absent_fields_absent() -> None:
    patch = EvsePatch.model_validate_json('{"status": "CHARGING", "last_updated": "2019-06-24T12:39:09Z"}')
    assert patch.model_fields_set == {"status", "last_updated"}
    assert patch.to_json() == {"status": "CHARGING", "last_updated": "2019-06-24T12:39:09Z"}


def test_every_public_name_is_exported_once() -> None:
    exported_by_modules: dict[str, object] = {}
    for name in (
        "common",
        "versions",
        "credentials",
        "tokens",
        "locations",
        "tariffs",
        "cdrs",
        "sessions",
        "hubclientinfo",
        "commands",
        "chargingprofiles",
    ):
        module = importlib.import_module(f"ocpi.models.{name}")
        for exported in module.__all__:
            obj = getattr(module, exported)
            # a name re-exported by a second module (e.g. EnergyMix by locations) is the same object
            assert exported_by_modules.setdefault(exported, obj) is obj, (name, exported)
    assert len(ocpi.models.__all__) == len(set(ocpi.models.__all__))
    assert set(ocpi.models.__all__) == set(exported_by_modules)
    for exported, obj in exported_by_modules.items():
        assert getattr(ocpi.models, exported) is obj
