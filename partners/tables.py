"""The partner registry's tables: partners, the roles and parties each speaks for, their endpoints, and the
credentials tokens they may present to us (stored as SHA-256 digests, never in clear)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from ocpi.types import utcnow
from partners.sqltypes import UTCDateTime


class PartnerStatus(StrEnum):
    PLANNED = "PLANNED"
    CONNECTED = "CONNECTED"
    SUSPENDED = "SUSPENDED"
    UNREGISTERED = "UNREGISTERED"


class TokenKind(StrEnum):
    REGISTRATION = "REGISTRATION"  # token A: versions and credentials only, until the handshake
    SERVER = "SERVER"  # the token the partner uses on every module once registered


class Partner(SQLModel, table=True):
    __tablename__ = "partners"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    status: str = Field(default=PartnerStatus.PLANNED, max_length=20, index=True)
    status_reason: str | None = Field(default=None, max_length=500)
    versions_url: str | None = Field(default=None, max_length=512)
    version: str | None = Field(default=None, max_length=10)
    version_details_url: str | None = Field(default=None, max_length=512)
    client_token: str | None = Field(default=None, max_length=64, repr=False)  # we send it; never listed
    base64_token: bool = True  # False for older peers that read the token raw
    initiated_by_us: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    registered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PartnerRole(SQLModel, table=True):
    """One `(role, country_code, party_id)` the partner speaks for (a CredentialsRole, or a party behind
    a hub)."""

    __tablename__ = "partner_roles"
    __table_args__ = (UniqueConstraint("partner_id", "role", "country_code", "party_id"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    role: str = Field(max_length=10)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    business_name: str | None = Field(default=None, max_length=100)
    website: str | None = Field(default=None, max_length=255)


class PartnerEndpoint(SQLModel, table=True):
    __tablename__ = "partner_endpoints"
    __table_args__ = (UniqueConstraint("partner_id", "identifier", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    identifier: str = Field(max_length=40)
    role: str = Field(max_length=10)
    url: str = Field(max_length=512)


class PartnerToken(SQLModel, table=True):
    """A credentials token a partner may present to us, by SHA-256 digest."""

    __tablename__ = "partner_tokens"
    __table_args__ = (Index("ix_partner_tokens_partner", "partner_id"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
