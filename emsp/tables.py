"""Every table of the node, imported in one place so Alembic and the tests see the whole metadata."""

from __future__ import annotations

from sqlmodel import SQLModel

import partners.tables  # noqa: F401

metadata = SQLModel.metadata
