"""The tokens we issue (spec mod_tokens.asciidoc 12.3.2) and the history of every change made to them.

A `Token` row is the eMSP's source of truth; `emsp.tokens.ocpi_map.to_ocpi` maps it to the OCPI Token.
Columns beyond the OCPI object:

- `uid_norm`: `uid` lower-cased. `uid` is a CiString (compared case-insensitively); lookups and the
  uniqueness rule use this column, `uid` keeps the value as it was given.
- `status`: ACTIVE, BLOCKED, INACTIVE (deactivated for good) or EXPIRED (`valid_until` passed). The OCPI
  `valid` is true only when ACTIVE and inside `[valid_from, valid_until)`.
- `allowed_locations`: NULL (charge anywhere) or a JSON allow-list used by real-time authorization,
  `{"<location_id lower-cased>": null | ["<evse_uid lower-cased>", ...]}`, null meaning every EVSE of that
  location (see `emsp.tokens.authorize`).
- `credit_hold` / `credit_hold_reason`: a hold set by finance or an operator (account without credit);
  real-time authorization answers NO_CREDIT while it lasts. It is not part of the OCPI Token (see
  `emsp.tokens.service.hold_credit`).
- `version`: +1 on every change, with `last_updated` set to the time of the change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from ocpi.types import utcnow
from partners.sqltypes import UTCDateTime


class TokenStatus(StrEnum):
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"
    INACTIVE = "INACTIVE"
    EXPIRED = "EXPIRED"


class TokenAction(StrEnum):
    CREATE = "create"
    EDIT = "edit"
    BLOCK = "block"
    UNBLOCK = "unblock"
    DEACTIVATE = "deactivate"
    EXPIRE = "expire"
    VALIDITY_START = "validity_start"  # valid_from reached: republished with valid=true
    CREDIT_HOLD = "credit_hold"
    CREDIT_RELEASE = "credit_release"


class Token(SQLModel, table=True):
    __tablename__ = "tokens"
    __table_args__ = (
        UniqueConstraint("country_code", "party_id", "uid_norm", "type", name="uq_tokens_party_uid_type"),
        UniqueConstraint("contract_id", name="uq_tokens_contract_id"),
        Index("ix_tokens_last_updated_id", "last_updated", "id"),
        Index("ix_tokens_uid_type", "uid_norm", "type"),
        Index("ix_tokens_status_valid_until", "status", "valid_until"),
        Index("ix_tokens_valid_from", "valid_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    uid: str = Field(max_length=36)
    uid_norm: str = Field(max_length=36)
    type: str = Field(max_length=12)
    contract_id: str = Field(max_length=36)
    visual_number: str | None = Field(default=None, max_length=64)
    issuer: str = Field(max_length=64)
    group_id: str | None = Field(default=None, max_length=36)
    whitelist: str = Field(max_length=16)
    language: str | None = Field(default=None, max_length=2)
    default_profile_type: str | None = Field(default=None, max_length=10)
    energy_contract_supplier_name: str | None = Field(default=None, max_length=64)
    energy_contract_id: str | None = Field(default=None, max_length=64)
    valid_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=TokenStatus.ACTIVE, max_length=10)
    block_reason: str | None = Field(default=None, max_length=255)
    allowed_locations: str | None = Field(default=None, sa_type=Text)
    credit_hold: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    credit_hold_reason: str | None = Field(default=None, max_length=255)
    version: int = Field(default=1)
    last_updated: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TokenHistory(SQLModel, table=True):
    """One change of a token: who (`actor`: admin key name, "cli" or "system"), what, and the field changes
    as JSON `{field: [old, new]}`."""

    __tablename__ = "token_history"
    __table_args__ = (UniqueConstraint("token_id", "version", name="uq_token_history_token_version"),)

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False)
    )
    version: int
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=20)
    changes: str = Field(default="{}", sa_type=Text)
