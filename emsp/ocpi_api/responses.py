"""Building OCPI responses in routers: the envelope, pagination headers, routing headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from emsp.ocpi_api import VERSION_PATH
from ocpi import headers as h
from ocpi.envelope import envelope
from ocpi.status import StatusCode

CONFIGURATION_MODULES = frozenset({"credentials", "hubclientinfo"})
"""Modules under the version path that are not routed: their requests and responses carry no routing
headers (transport_and_format.asciidoc, "Message Routing Headers"; versions are not routed either)."""


def ocpi_response(
    data: Any = None,
    *,
    http_status: int = 200,
    status_code: int = StatusCode.SUCCESS,
    status_message: str | None = "Success",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        envelope(data, status_code=status_code, status_message=status_message),
        status_code=http_status,
        headers=headers,
    )


def response_routing_headers(request_headers: Mapping[str, str]) -> dict[str, str]:
    """The routing headers of a functional module's response: the request's `OCPI-from-*` and `OCPI-to-*`
    swapped (spec transport_and_format.asciidoc, "Message Routing Headers"); {} when the request had none."""
    pairs = (
        (h.FROM_COUNTRY_CODE, h.TO_COUNTRY_CODE),
        (h.FROM_PARTY_ID, h.TO_PARTY_ID),
        (h.TO_COUNTRY_CODE, h.FROM_COUNTRY_CODE),
        (h.TO_PARTY_ID, h.FROM_PARTY_ID),
    )
    result: dict[str, str] = {}
    for request_name, response_name in pairs:
        value = (request_headers.get(request_name) or "").strip()
        if value and value.isascii() and len(value) <= 3:
            result[response_name] = value
    return result


def is_functional_module_path(path: str) -> bool:
    """A path under the version path other than the version details and the configuration modules: the
    request of a functional module (Tokens, Locations, CDRs ...) or an unknown path shaped like one."""
    prefix = VERSION_PATH + "/"
    if not path.startswith(prefix):
        return False
    module = path[len(prefix) :].split("/", 1)[0]
    return bool(module) and module not in CONFIGURATION_MODULES
