"""Every table of the node, imported in one place so Alembic and the tests see the whole metadata."""

from __future__ import annotations

from sqlmodel import SQLModel

import emsp.billing.tables  # noqa: F401
import emsp.cdrs.tables  # noqa: F401
import emsp.distribution.tables  # noqa: F401
import emsp.ingest.tables  # noqa: F401
import emsp.tokens.tables  # noqa: F401
import partners.tables  # noqa: F401

metadata = SQLModel.metadata
