"""Credentials module (OCPI 2.2.1 section 7, credentials.asciidoc)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ocpi.models.common import BusinessDetails, OcpiModel, Role
from ocpi.types import URL, AsciiString64, CiString2, CiString3

__all__ = ["Credentials", "CredentialsRole"]


class CredentialsRole(OcpiModel):
    """CredentialsRole class (7.4.1): one role, with its party, that the platform provides."""

    role: Role
    business_details: BusinessDetails
    party_id: CiString3
    country_code: CiString2


class Credentials(OcpiModel):
    """Credentials object (7.3.1).

    `token` is case-sensitive printable ASCII, sent as is (not base64 encoded).
    """

    token: AsciiString64
    url: URL
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]
