"""token deliveries per target party (parties behind a hub)

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-28 10:00:00.000000

`token_deliveries` gets the party each row is addressed to (`to_country_code`, `to_party_id`, not null) and
its unique key becomes (token, partner, target party). Existing rows are addressed as they were pushed
until now: the partner's HUB role, else its CPO role, else its first role (`partners.delivery
.pick_to_party`), upper-cased. The index `ix_token_deliveries_party` serves the per-party counts, pauses
and drops of `emsp.distribution.sync`.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

# Existing rows keep the party pushes were addressed to until now: HUB role, else CPO role, else the first.
_ADDRESS_EXISTING_ROWS = """
UPDATE token_deliveries SET
  to_country_code = COALESCE((
    SELECT upper(r.country_code) FROM partner_roles AS r WHERE r.partner_id = token_deliveries.partner_id
    ORDER BY CASE r.role WHEN 'HUB' THEN 0 WHEN 'CPO' THEN 1 ELSE 2 END, r.id LIMIT 1), ''),
  to_party_id = COALESCE((
    SELECT upper(r.party_id) FROM partner_roles AS r WHERE r.partner_id = token_deliveries.partner_id
    ORDER BY CASE r.role WHEN 'HUB' THEN 0 WHEN 'CPO' THEN 1 ELSE 2 END, r.id LIMIT 1), '')
"""


def upgrade() -> None:
    with op.batch_alter_table("token_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "to_country_code",
                sqlmodel.sql.sqltypes.AutoString(length=2),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "to_party_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False, server_default=""
            )
        )
    op.execute(_ADDRESS_EXISTING_ROWS)
    with op.batch_alter_table("token_deliveries", schema=None) as batch_op:
        batch_op.alter_column("to_country_code", server_default=None)
        batch_op.alter_column("to_party_id", server_default=None)
        batch_op.drop_constraint("uq_token_deliveries_token_partner", type_="unique")
        batch_op.create_unique_constraint(
            "uq_token_deliveries_target", ["token_id", "partner_id", "to_country_code", "to_party_id"]
        )
        batch_op.create_index(
            "ix_token_deliveries_party",
            ["partner_id", "to_country_code", "to_party_id", "paused"],
            unique=False,
        )


def downgrade() -> None:
    op.execute(  # one row per (token, partner) again: keep the lowest id
        "DELETE FROM token_deliveries WHERE id NOT IN "
        "(SELECT min(id) FROM token_deliveries GROUP BY token_id, partner_id)"
    )
    with op.batch_alter_table("token_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_token_deliveries_party")
        batch_op.drop_constraint("uq_token_deliveries_target", type_="unique")
        batch_op.create_unique_constraint("uq_token_deliveries_token_partner", ["token_id", "partner_id"])
        batch_op.drop_column("to_party_id")
        batch_op.drop_column("to_country_code")
