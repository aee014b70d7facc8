"""The group at a glance: when each mark was made (streaks need every change, not only the
latest), and the study-group page's link per channel (its token hashed); legacy user_version 6.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INSTANT = sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mark_events",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.CheckConstraint("status IN ('done', 'reading', 'skipped', 'cleared')"),
    )
    op.create_index("mark_events_by_user", "mark_events", ["user_id", "project", "at"])
    # the marks made before this revision: their latest change is all we know
    op.execute(
        "INSERT INTO mark_events (user_id, project, status, at) "
        "SELECT user_id, project, status, updated_at FROM progress"
    )
    op.create_table(
        "dashboard_links",
        sa.Column("channel", sa.Text, primary_key=True),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("salt", sa.Text, nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("dashboard_links")
    op.drop_index("mark_events_by_user", table_name="mark_events")
    op.drop_table("mark_events")
