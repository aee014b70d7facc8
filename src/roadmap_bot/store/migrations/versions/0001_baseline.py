"""The schema of roadmap-bot 0.1 (legacy user_version 3): people, study groups, reports.

A SQLite file written before Alembic already has these tables: the store stamps it with
this revision instead of running it (see ``store/migrate.py``).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the types in schema.py as they were at this revision.
INSTANT = sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
DAY = sa.Text().with_variant(postgresql.DATE(), "postgresql")
ACTIVE = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("seen_at", INSTANT, nullable=False),
    )
    op.create_table(
        "progress",
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("updated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "project"),
        sa.CheckConstraint("status IN ('done', 'reading', 'skipped')"),
        sqlite_with_rowid=False,
    )
    op.create_index("progress_by_project", "progress", ["project", "status"])
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("at_time", sa.Text, nullable=False),
        sa.Column("timezone", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("next_due_at", INSTANT, nullable=False),
        sa.Column("paused_until", DAY),
        sa.Column("problem", sa.Text),
        sa.Column("ended_at", INSTANT),
        sa.Column("ended_why", sa.Text),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "one_subscription_per_channel",
        "subscriptions",
        ["channel"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_index(
        "subscriptions_due",
        "subscriptions",
        ["next_due_at"],
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("subscription_id", sa.Integer, sa.ForeignKey("subscriptions.id"), nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("week", DAY, nullable=False),
        sa.Column("due_at", INSTANT, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("project", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_at", INSTANT),
        sa.Column("claimed_by", sa.Text),
        sa.Column("sent_at", INSTANT),
        sa.Column("message_id", sa.Text),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("subscription_id", "week"),
        sa.CheckConstraint("kind IN ('digest', 'completion')"),
        sa.CheckConstraint("state IN ('claimed', 'sent', 'missed', 'paused', 'failed')"),
    )
    op.create_index("deliveries_by_channel", "deliveries", ["channel", "sent_at"])
    op.create_index("deliveries_by_due", "deliveries", ["due_at", "state"])
    op.create_table(
        "channel_covered",
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("how", sa.Text, nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("channel", "project"),
        sa.CheckConstraint("how IN ('posted', 'skipped')"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "channel_members",
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("seen_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("channel", "user_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "report_outlines",
        sa.Column("slug", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("parser", sa.Integer, nullable=False),
        sa.Column("outline", sa.Text),
        sa.Column("problem", sa.Text),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("fetched_at", INSTANT),
        sa.Column("checked_at", INSTANT),
        sa.Column("failed_at", INSTANT),
        sa.Column("failure", sa.Text),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for table in (
        "report_outlines",
        "channel_members",
        "channel_covered",
        "deliveries",
        "subscriptions",
        "meta",
        "progress",
        "users",
    ):
        op.drop_table(table)
