"""The learning paths each person follows on purpose ('follow PATH'); legacy user_version 4.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INSTANT = sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("followed_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "path"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("follows")
