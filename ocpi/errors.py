"""The OCPI error hierarchy.

Every error knows the OCPI status code and the HTTP status it is answered with::

    OcpiError                         (base; 2000 / HTTP 400)
    ├── ClientError                   2xxx: the request is at fault
    │   ├── InvalidParameters         2001, HTTP 400 (malformed JSON, wrong types, missing fields)
    │   ├── NotEnoughInformation      2002, HTTP 400
    │   ├── UnknownLocation           2003, HTTP 404
    │   ├── UnknownToken              2004, HTTP 404
    │   ├── NotFound                  2000, HTTP 404 (GET of an unknown object)
    │   ├── Unauthorized              2000, HTTP 401 (missing or unknown credentials token)
    │   ├── Forbidden                 2000, HTTP 403 (token known, party not its own)
    │   └── MethodNotAllowed          2000, HTTP 405 (credentials POST when registered ...)
    ├── ServerError                   3xxx: the server is at fault
    │   ├── UnableToUseClientApi      3001
    │   ├── UnsupportedVersion        3002
    │   └── NoMatchingEndpoints       3003
    └── HubError                      4xxx: routing through a hub failed
        ├── UnknownReceiver           4001
        ├── HubTimeout                4002
        └── HubConnectionProblem      4003

`PartnerCallError` is raised by the client when a partner answers badly; it carries what was received.
"""

from __future__ import annotations

from ocpi.status import StatusCode


class OcpiError(Exception):
    """Base of every OCPI error (spec status_codes.asciidoc)."""

    status_code: int = StatusCode.CLIENT_ERROR
    http_status: int = 400
    default_message: str = "Client error"

    def __init__(self, message: str | None = None, *, status_code: int | None = None) -> None:
        self.status_message = message or self.default_message
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.status_message)


class ClientError(OcpiError):
    status_code = StatusCode.CLIENT_ERROR
    http_status = 400
    default_message = "Client error"


class InvalidParameters(ClientError):
    status_code = StatusCode.INVALID_OR_MISSING_PARAMETERS
    default_message = "Invalid or missing parameters"


class NotEnoughInformation(ClientError):
    status_code = StatusCode.NOT_ENOUGH_INFORMATION
    default_message = "Not enough information"


class UnknownLocation(ClientError):
    status_code = StatusCode.UNKNOWN_LOCATION
    http_status = 404
    default_message = "Unknown Location"


class UnknownToken(ClientError):
    status_code = StatusCode.UNKNOWN_TOKEN
    http_status = 404
    default_message = "Unknown Token"


class NotFound(ClientError):
    http_status = 404
    default_message = "Object not found"


class Unauthorized(ClientError):
    http_status = 401
    default_message = "Missing or unknown credentials token"


class Forbidden(ClientError):
    http_status = 403
    default_message = "Not allowed for this party"


class MethodNotAllowed(ClientError):
    http_status = 405
    default_message = "Method not allowed in the current state"


class ServerError(OcpiError):
    status_code = StatusCode.SERVER_ERROR
    http_status = 500
    default_message = "Server error"


class UnableToUseClientApi(ServerError):
    status_code = StatusCode.UNABLE_TO_USE_CLIENT_API
    http_status = 200
    default_message = "Unable to use the client's API"


class UnsupportedVersion(ServerError):
    status_code = StatusCode.UNSUPPORTED_VERSION
    http_status = 200
    default_message = "Unsupported version"


class NoMatchingEndpoints(ServerError):
    status_code = StatusCode.NO_MATCHING_ENDPOINTS
    http_status = 200
    default_message = "No matching endpoints or expected endpoints missing"


class HubError(OcpiError):
    status_code = StatusCode.HUB_ERROR
    http_status = 200
    default_message = "Hub error"


class UnknownReceiver(HubError):
    status_code = StatusCode.HUB_UNKNOWN_RECEIVER
    default_message = "Unknown receiver"


class HubTimeout(HubError):
    status_code = StatusCode.HUB_TIMEOUT
    default_message = "Timeout on forwarded request"


class HubConnectionProblem(HubError):
    status_code = StatusCode.HUB_CONNECTION_PROBLEM
    default_message = "Connection problem: receiving party is not connected"


class PartnerCallError(Exception):
    """A call to a partner did not succeed: transport error, HTTP error, bad body or OCPI error status.

    Attributes describe what was observed so callers can record it: `http_status` (None when no response),
    `ocpi_status` (None when the body had no envelope), `message`, `request_id`, `error_class`
    (one of: "transport", "timeout", "http", "invalid_response", "ocpi"), `retry_after` in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        error_class: str,
        http_status: int | None = None,
        ocpi_status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.http_status = http_status
        self.ocpi_status = ocpi_status
        self.request_id = request_id
        self.retry_after = retry_after
