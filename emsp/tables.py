"""Every table of the node, imported in one place so Alembic and the tests see the whole metadata."""

from __future__ import annotations

from sqlmodel import SQLModel

import emsp.billing.tables
import emsp.cdrs.tables
import emsp.distribution.tables
import emsp.ingest.tables
import emsp.tokens.tables  # noqa: F401
import partners.tables  # noqa: F401

metadata = SQLModel.metadata
