"""OCPI status codes (spec: status_codes.asciidoc, section 5)."""

from __future__ import annotations

from enum import IntEnum


class StatusCode(IntEnum):
    """The `status_code` of every OCPI response envelope."""

    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_OR_MISSING_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    UNABLE_TO_USE_CLIENT_API = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003
    HUB_ERROR = 4000
    HUB_UNKNOWN_RECEIVER = 4001
    HUB_TIMEOUT = 4002
    HUB_CONNECTION_PROBLEM = 4003


def is_success(code: int) -> bool:
    """1xxx codes are successes (1000 plus the custom 19xx range)."""
    return 1000 <= code < 2000


def is_client_error(code: int) -> bool:
    return 2000 <= code < 3000


def is_server_error(code: int) -> bool:
    return 3000 <= code < 4000


def is_hub_error(code: int) -> bool:
    return 4000 <= code < 5000
