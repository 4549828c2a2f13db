"""token credit hold

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-28 12:00:00.000000

`tokens.credit_hold` (not null, false for every existing token) and `tokens.credit_hold_reason`: a hold set
by finance or an operator, answered NO_CREDIT by real-time authorization (`emsp.tokens.authorize`).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_hold", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("credit_hold_reason", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("credit_hold_reason")
        batch_op.drop_column("credit_hold")
