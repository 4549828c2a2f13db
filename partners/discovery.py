"""Reading a partner's versions and version details (spec version_information_endpoint.asciidoc) with a
given token, choosing the version we speak, and checking the endpoints we need. No database here: the
handshake calls this before it writes anything."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from pydantic import ValidationError

from ocpi.client import OcpiClient
from ocpi.errors import PartnerCallError
from ocpi.models.credentials import CredentialsRole
from ocpi.models.versions import Endpoint, Version, VersionDetails
from partners.errors import EndpointsMissing, NoCommonVersion, PartnerUnreachable
from partners.urlguard import UrlPolicy, check_url

log = logging.getLogger(__name__)

CREDENTIALS = "credentials"
MAX_IDENTIFIER_LENGTH = 40  # partner_endpoints.identifier


@dataclass(frozen=True)
class HandshakePolicy:
    """What `emsp` decides and passes in: who we are, which URLs we call, what we require of a partner."""

    versions_url: str  # ours
    roles: tuple[CredentialsRole, ...]  # ours
    url_policy: UrlPolicy = field(default_factory=UrlPolicy)
    versions: tuple[str, ...] = ("2.2.1",)  # most preferred first
    required_modules: frozenset[str] = frozenset({CREDENTIALS})
    rotation_grace: timedelta = timedelta(0)


@dataclass(frozen=True)
class Discovery:
    """A partner's versions URL, the version chosen, its details URL and its endpoints."""

    versions_url: str
    version: str
    details_url: str
    endpoints: tuple[Endpoint, ...]

    def endpoint_url(self, identifier: str) -> str | None:
        return next((str(e.url) for e in self.endpoints if e.identifier == identifier), None)

    @property
    def credentials_url(self) -> str:
        url = self.endpoint_url(CREDENTIALS)
        assert url is not None  # discover() checked it
        return url


async def discover(
    http: httpx.AsyncClient,
    versions_url: str,
    token: str,
    *,
    base64_token: bool,
    policy: HandshakePolicy,
    correlation_id: str | None = None,
) -> Discovery:
    """GET the partner's versions and the details of the version we choose, with `token`.

    `correlation_id`: the `X-Correlation-ID` of the request that made us call (spec 4.2: it follows the
    whole exchange); a new one when None."""
    client = OcpiClient(http, token=token, base64_token=base64_token, correlation_id=correlation_id)
    await check_url(versions_url, policy.url_policy)
    try:
        raw_versions = await client.get_versions(versions_url)
    except PartnerCallError as exc:
        raise PartnerUnreachable.from_call("GET versions failed", exc) from None
    version, details_url = _choose_version(raw_versions, policy.versions)
    await check_url(details_url, policy.url_policy)
    try:
        raw_details = await client.get_version_details(details_url)
    except PartnerCallError as exc:
        raise PartnerUnreachable.from_call("GET version details failed", exc) from None
    endpoints = _endpoints(raw_details, version)
    missing = sorted(m for m in policy.required_modules if not any(e.identifier == m for e in endpoints))
    if missing:
        raise EndpointsMissing(f"Version {version} details lack required endpoints: {', '.join(missing)}")
    return Discovery(versions_url=versions_url, version=version, details_url=details_url, endpoints=endpoints)


def _choose_version(raw_versions: list[dict[str, object]], wanted: tuple[str, ...]) -> tuple[str, str]:
    offered: dict[str, str] = {}
    for raw in raw_versions:
        try:
            entry = Version.model_validate(raw)
        except ValidationError:
            continue  # one unreadable entry does not hide the others
        offered.setdefault(str(entry.version), str(entry.url))
    for version in wanted:
        if version in offered:
            return version, offered[version]
    listed = ", ".join(sorted(offered)) or "none"
    raise NoCommonVersion(f"No common version: partner offers {listed}, we speak {', '.join(wanted)}")


def _endpoints(raw_details: dict[str, object], version: str) -> tuple[Endpoint, ...]:
    try:
        details = VersionDetails.model_validate(raw_details)
    except ValidationError as exc:
        raise PartnerUnreachable(f"Version details unreadable: {exc.error_count()} errors") from None
    if str(details.version) != version:
        raise PartnerUnreachable(f"Version details are for {details.version}, expected {version}")
    kept: dict[tuple[str, str], Endpoint] = {}
    for endpoint in details.endpoints:
        if len(endpoint.identifier) > MAX_IDENTIFIER_LENGTH:
            log.warning("ignoring endpoint with an over-long identifier %.40s...", endpoint.identifier)
            continue
        kept.setdefault((str(endpoint.identifier), str(endpoint.role)), endpoint)
    return tuple(kept.values())
