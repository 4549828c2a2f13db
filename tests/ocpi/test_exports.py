"""The public surface of `ocpi` is locked: adding or removing a name is a deliberate change here."""

import ocpi
import ocpi.models

EXPECTED = {
    "DateTime", "Number", "OcpiCallResult", "OcpiClient", "OcpiError", "OcpiResponse", "Page", "PageParams",
    "PartnerCallError", "StatusCode", "build_link", "candidate_tokens", "ci_equal", "encode_token",
    "envelope", "errors", "format_datetime", "headers", "is_valid_token", "models", "new_token",
    "pagination_headers",
    "parse_next_link", "parse_page_params", "parse_retry_after", "to_utc",
}  # fmt: skip


def test_ocpi_exports_exactly_the_public_api() -> None:
    assert set(ocpi.__all__) == EXPECTED
    for name in ocpi.__all__:
        assert getattr(ocpi, name) is not None


def test_every_model_export_resolves() -> None:
    assert len(ocpi.models.__all__) == len(set(ocpi.models.__all__))
    for name in ocpi.models.__all__:
        assert getattr(ocpi.models, name) is not None
