"""What can go wrong when dealing with a partner.

    HandshakeFailure (OcpiError)      the partner's side of a credentials handshake failed
    ├── PartnerUnreachable            3001: its API could not be used (transport, HTTP, OCPI or body error)
    │   ├── UrlRefused                3001: a URL it gave us is not one we call (scheme, private address)
    │   └── PartnerRefused            3001: it answered our credentials POST/PUT with an error
    ├── NoCommonVersion               3002: it offers no version we speak
    └── EndpointsMissing              3003: its version details lack an endpoint we need
    RegistryError                     an operator's request does not fit the registry
    ├── PartnerNotFound
    └── PartnerStateError             e.g. rotating a partner that is not connected, a name in use

A `HandshakeFailure` is an `OcpiError`, so as credentials receiver it is answered as such (HTTP 200 and
its 3xxx status); as initiator the caller reports it with what the partner said (`partner_http_status`,
`partner_ocpi_status`).
"""

from __future__ import annotations

from ocpi.errors import (
    NoMatchingEndpoints,
    OcpiError,
    PartnerCallError,
    UnableToUseClientApi,
    UnsupportedVersion,
)


class HandshakeFailure(OcpiError):
    def __init__(
        self,
        message: str,
        *,
        partner_http_status: int | None = None,
        partner_ocpi_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.partner_http_status = partner_http_status
        self.partner_ocpi_status = partner_ocpi_status

    @classmethod
    def from_call(cls, what: str, error: PartnerCallError) -> HandshakeFailure:
        return cls(
            f"{what}: {error.message}",
            partner_http_status=error.http_status,
            partner_ocpi_status=error.ocpi_status,
        )


class PartnerUnreachable(HandshakeFailure, UnableToUseClientApi):
    pass


class UrlRefused(PartnerUnreachable):
    pass


class PartnerRefused(PartnerUnreachable):
    pass


class NoCommonVersion(HandshakeFailure, UnsupportedVersion):
    pass


class EndpointsMissing(HandshakeFailure, NoMatchingEndpoints):
    pass


class RegistryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PartnerNotFound(RegistryError):
    pass


class PartnerStateError(RegistryError):
    pass
