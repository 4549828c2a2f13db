"""Building OCPI responses in routers: the envelope, pagination headers, routing headers."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ocpi.envelope import envelope
from ocpi.status import StatusCode


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
