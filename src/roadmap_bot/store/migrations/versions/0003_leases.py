"""Leases on deliveries: claimed_by holds a row until lease_until, and the discussion thread
is part of the delivery until it is posted; legacy user_version 5.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INSTANT = sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
OWED = sa.text("state = 'claimed' OR discussion = 'pending'")


def upgrade() -> None:
    # claims left by an older version get no lease: the next worker may take them over
    op.add_column("deliveries", sa.Column("lease_until", INSTANT))
    op.add_column("deliveries", sa.Column("discussion", sa.Text))
    op.create_index(
        "deliveries_leases",
        "deliveries",
        ["lease_until"],
        sqlite_where=OWED,
        postgresql_where=OWED,
    )


def downgrade() -> None:
    op.drop_index("deliveries_leases", table_name="deliveries")
    op.drop_column("deliveries", "discussion")
    op.drop_column("deliveries", "lease_until")
