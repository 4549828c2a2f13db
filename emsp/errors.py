"""One place that turns every error into a response. OCPI paths answer with the OCPI envelope; admin paths
with `{"error": {"code", "message", "details"}}`. No stack trace ever leaves the process.

Every envelope rendered here for a functional module's path (`is_functional_module_path`: not versions,
credentials or hubclientinfo) carries the request's routing headers swapped (`response_routing_headers`),
whatever raised the error: a dependency (unknown token), request validation, routing (unknown path, method
not allowed), a route, or an unexpected error. Routes that answer errors themselves set them too."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from emsp.ocpi_api.responses import is_functional_module_path, response_routing_headers
from ocpi.envelope import envelope
from ocpi.errors import OcpiError
from ocpi.status import StatusCode

log = logging.getLogger("emsp.errors")


class AdminError(Exception):
    """An error of the admin API: HTTP status, a stable code and a message for the operator."""

    def __init__(self, http_status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details


def _is_admin(request: Request) -> bool:
    return request.url.path.startswith("/admin")


def ocpi_error_response(
    request: Request,
    http_status: int,
    status_code: int,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The OCPI envelope of an error, with the routing headers of a functional module's response."""
    answer = dict(headers or {})
    if is_functional_module_path(request.url.path):
        answer.update(response_routing_headers(request.headers))
    return JSONResponse(
        envelope(status_code=status_code, status_message=message), status_code=http_status, headers=answer
    )


def admin_error_response(http_status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return JSONResponse(body, status_code=http_status)


def describe_validation_errors(errors: list[Any]) -> str:
    """A short, useful `status_message`: where and what, never the whole input echoed back."""
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        if err.get("type") == "json_invalid":
            return "Malformed JSON body"
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "Invalid or missing parameters: " + "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OcpiError)
    async def _ocpi(request: Request, exc: OcpiError) -> JSONResponse:
        if _is_admin(request):
            return admin_error_response(exc.http_status, "ocpi_" + str(exc.status_code), exc.status_message)
        return ocpi_error_response(request, exc.http_status, exc.status_code, exc.status_message)

    @app.exception_handler(AdminError)
    async def _admin(request: Request, exc: AdminError) -> JSONResponse:
        return admin_error_response(exc.http_status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message = describe_validation_errors(list(exc.errors()))
        if _is_admin(request):
            details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()[:20]]
            return admin_error_response(400, "invalid_request", message, details)
        return ocpi_error_response(request, 400, StatusCode.INVALID_OR_MISSING_PARAMETERS, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail) if exc.detail else "HTTP error"
        if _is_admin(request):
            return admin_error_response(exc.status_code, "http_" + str(exc.status_code), message)
        return ocpi_error_response(request, exc.status_code, StatusCode.CLIENT_ERROR, message, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_admin(request):
            return admin_error_response(500, "internal_error", "Internal error; see the node's log")
        return ocpi_error_response(request, 500, StatusCode.SERVER_ERROR, "Internal server error")
