"""The token distribution ledger: one row per (token, partner with a Tokens RECEIVER endpoint, target
party), the last attempts of each row, and the per-partner pause state.

The target party (`to_country_code`, `to_party_id`, never null) is the `OCPI-to-*` of the push
(`emsp.distribution.addressing`): a direct partner's own party, a CPO party behind a hub, or the hub's own
party for a broadcast push. A `TokenDelivery` row says which version of the token that party should have
(`wanted_version`) and which it acknowledged (`acked_version`). It is the only pending work for that
target: a newer change overwrites it (coalescing), so a retry always re-sends the token's current state
(spec "Offline behaviour": no queued messages). States:

- PENDING: `wanted_version` not acknowledged yet; due at `next_attempt_at`. With `paused` set it is kept
  but not sent: the partner is SUSPENDED or rejected our credentials (`PartnerDeliveryState`), or the
  party is not CONNECTED behind its hub (NOT_CONNECTED: derived from `hub_client_infos`, not stored).
- SUCCEEDED: `acked_version == wanted_version`.
- FAILED: a permanent refusal, or `max_attempts` transient failures; an operator retry or the next change
  makes it PENDING again.

A worker holds a row while it is in flight: `claimed_by`, `lease_until` and `lease_token` (a fence: the
outcome is written only if the lease is still the worker's). A lease that passed makes the row claimable
again (crash recovery). `attempts` counts the claims for the current `wanted_version`; `attempt_seq` counts
every claim ever and numbers the `TokenDeliveryAttempt` log, which keeps the last 20 per row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from ocpi.types import utcnow
from partners.sqltypes import UTCDateTime

ATTEMPT_LOG_KEEP = 20


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class PauseReason(StrEnum):
    PARTNER_STATUS = "PARTNER_STATUS"  # the partner is not CONNECTED (SUSPENDED, PLANNED, no token)
    CREDENTIALS = "CREDENTIALS"  # it answered HTTP 401/403: credentials need attention
    NOT_CONNECTED = "NOT_CONNECTED"  # a hub reports the party OFFLINE / SUSPENDED / PLANNED


class TokenDelivery(SQLModel, table=True):
    __tablename__ = "token_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "token_id", "partner_id", "to_country_code", "to_party_id", name="uq_token_deliveries_target"
        ),
        Index("ix_token_deliveries_claim", "partner_id", "status", "paused", "next_attempt_at"),
        Index("ix_token_deliveries_due", "status", "paused", "next_attempt_at"),
        Index("ix_token_deliveries_party", "partner_id", "to_country_code", "to_party_id", "paused"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False)
    )
    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), nullable=False)
    )
    to_country_code: str = Field(max_length=2)
    to_party_id: str = Field(max_length=3)
    wanted_version: int
    acked_version: int | None = None
    status: str = Field(default=DeliveryStatus.PENDING, max_length=10)
    paused: bool = False
    attempts: int = 0
    attempt_seq: int = 0
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=80)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_token: str | None = Field(default=None, max_length=36)
    last_outcome: str | None = Field(default=None, max_length=12)
    last_http_status: int | None = None
    last_ocpi_status: int | None = None
    last_message: str | None = Field(default=None, max_length=500)
    last_request_id: str | None = Field(default=None, max_length=64)
    last_error_class: str | None = Field(default=None, max_length=20)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TokenDeliveryAttempt(SQLModel, table=True):
    """One attempt (a PUT with its short retries) of one row; the last `ATTEMPT_LOG_KEEP` per row are kept."""

    __tablename__ = "token_delivery_attempts"
    __table_args__ = (Index("ix_token_delivery_attempts_delivery_seq", "delivery_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(Integer, ForeignKey("token_deliveries.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int
    version: int
    outcome: str = Field(max_length=12)
    http_status: int | None = None
    ocpi_status: int | None = None
    message: str | None = Field(default=None, max_length=500)
    request_id: str | None = Field(default=None, max_length=64)
    error_class: str | None = Field(default=None, max_length=20)
    tries: int = 1
    duration_ms: float | None = None
    worker: str | None = Field(default=None, max_length=80)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PartnerDeliveryState(SQLModel, table=True):
    """Per partner: why pushing is paused (None: it is not), and when it was last reconciled."""

    __tablename__ = "partner_delivery_state"

    partner_id: int = Field(
        sa_column=Column(Integer, ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    )
    pause_reason: str | None = Field(default=None, max_length=20)
    pause_message: str | None = Field(default=None, max_length=500)
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    token_fingerprint: str | None = Field(default=None, max_length=64)  # of the client token refused
    last_reconciled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
