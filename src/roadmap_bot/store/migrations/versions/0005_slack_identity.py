"""Slack ids by installation: a channel is its installation's, a Grid member is one person.

Before this revision a Slack channel was keyed by the team of whoever typed
(``slack:<their team>:C``) and every person by their workspace. Now a channel is
``slack:<team>:C`` for a workspace's install or ``slack:<enterprise>:C`` for an org-wide
Enterprise Grid install, and a person reached through a Grid organization is
``slack:<enterprise>:U``. No table changes; ids are rewritten where this database can
know the mapping, with nothing lost:

What it knows: slack_sdk's installation tables (``slack_installations``, ``slack_bots``),
present when the bot installs by OAuth. Each row names a workspace and, in a Grid
organization, its enterprise, and says whether the install is org-wide.
- A workspace of a Grid organization: its people ``slack:<team>:U`` become
  ``slack:<enterprise>:U`` (two workspaces' rows of one member merge).
- One installation only: every channel is ``slack:<its key>:C`` (a Slack Connect
  channel subscribed from the other organization's side joins the host's), and under a
  Grid organization every person is ``slack:<enterprise>:U``.
- Several installations: a channel found under a workspace that is no installation of
  ours moves to the one installed key it is also found under.
A bot with one SLACK_BOT_TOKEN has no such tables: the adapter applies the same rules at
start-up, when ``auth.test`` has named its installation (``SqlStore.adopt_slack_installation``).
An org-wide install among several leaves its workspaces' older rows as they were (nothing
names which workspaces belong to it): they stay in the database, unused.

How rows merge (marks: ``done`` wins, else the later change; every mark event kept;
follows and sightings keep the later date; a channel subscribed from two sides keeps the
older active subscription and ends the other with the reason; covered reports keep
``posted``; the older page link stays): see ``roadmap_bot.store.identity``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from roadmap_bot.store.identity import Installation, plan, rename

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INSTALL_TABLES = ("slack_installations", "slack_bots")


def _installations(conn: sa.Connection) -> list[Installation]:
    present = set(sa.inspect(conn).get_table_names())
    found: set[Installation] = set()
    for name in INSTALL_TABLES:
        if name not in present:
            continue
        rows = conn.execute(
            sa.text(f"SELECT DISTINCT team_id, enterprise_id, is_enterprise_install FROM {name}")
        )
        for team, enterprise, org_wide in rows:
            found.add(Installation(team or None, enterprise or None, bool(org_wide)))
    return sorted(found, key=lambda i: (i.key, i.team or "", i.enterprise or ""))


def upgrade() -> None:
    conn = op.get_bind()
    people, channels = plan(conn, _installations(conn))
    if people or channels:
        rename(conn, people=people, channels=channels, now=datetime.now(UTC))


def downgrade() -> None:
    pass  # the old keys cannot be told apart again; the rows stay where they are
