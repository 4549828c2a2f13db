"""Errors of the token rules. Each carries the admin API's HTTP status and code, so the admin API renders it
as it is and the CLI prints its message."""

from __future__ import annotations

from typing import Any

from emsp.errors import AdminError


class TokenError(AdminError):
    http_status_default = 400
    code_default = "invalid_token"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(self.http_status_default, self.code_default, message, details)


class InvalidTokenData(TokenError):
    """Bad input: nothing is stored."""


class TokenNotFound(TokenError):
    http_status_default = 404
    code_default = "not_found"


class TokenConflict(TokenError):
    """A uniqueness rule or the token's state forbids the change."""

    http_status_default = 409
    code_default = "conflict"
