"""Due selection reads subscriptions in (next_due_at, id) order, a batch at a time (keyset
pagination): the index holds both, so each batch starts where the last one ended, even
when 20,000 subscriptions share one instant.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ACTIVE = sa.text("ended_at IS NULL")


def _due_index(*columns: str) -> None:
    op.drop_index("subscriptions_due", table_name="subscriptions")
    op.create_index(
        "subscriptions_due",
        "subscriptions",
        list(columns),
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def upgrade() -> None:
    _due_index("next_due_at", "id")


def downgrade() -> None:
    _due_index("next_due_at")
