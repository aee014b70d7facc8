"""Who changed marks or follows, in commit order: the SQLite marks cache drops only the
people another process changed instead of everyone (PostgreSQL is told by NOTIFY).

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mark_versions",
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("mark_versions_by_version", "mark_versions", ["version"])


def downgrade() -> None:
    op.drop_index("mark_versions_by_version", table_name="mark_versions")
    op.drop_table("mark_versions")
