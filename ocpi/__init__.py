"""OCPI 2.2.1 protocol library: models, envelope, status codes, errors, headers, pagination, async client.

Import rule: `ocpi` imports no other package of this project; no database, no FastAPI, no clock
(`utcnow` is the one clock read, used only to stamp envelopes).
The public surface is `__all__`; `tests/ocpi/test_exports.py` locks it so it never grows by accident.
"""

from ocpi import errors, headers, models
from ocpi.auth import candidate_tokens, encode_token, is_valid_token, new_token
from ocpi.client import OcpiCallResult, OcpiClient, Page, parse_retry_after
from ocpi.envelope import OcpiResponse, envelope
from ocpi.errors import OcpiError, PartnerCallError
from ocpi.pagination import (
    PageParams,
    build_link,
    pagination_headers,
    parse_next_link,
    parse_page_params,
)
from ocpi.status import StatusCode
from ocpi.types import DateTime, Number, ci_equal, format_datetime, to_utc

__all__ = [
    "DateTime",
    "Number",
    "OcpiCallResult",
    "OcpiClient",
    "OcpiError",
    "OcpiResponse",
    "Page",
    "PageParams",
    "PartnerCallError",
    "StatusCode",
    "build_link",
    "candidate_tokens",
    "ci_equal",
    "encode_token",
    "envelope",
    "errors",
    "format_datetime",
    "headers",
    "is_valid_token",
    "models",
    "new_token",
    "pagination_headers",
    "parse_next_link",
    "parse_page_params",
    "parse_retry_after",
    "to_utc",
]
