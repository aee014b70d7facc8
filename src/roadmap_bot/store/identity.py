"""Renaming people and channels without losing anything: the rules, in one place.

Slack ids changed meaning once (revision 0005, and ``SqlStore.adopt_slack_installation``
for a single-token bot): a channel is its installation's (``slack:<team>:C`` or, for an
org-wide Enterprise Grid install, ``slack:<enterprise>:C``) and a Grid member is
``slack:<enterprise>:<user>``. Moving rows to a new id may meet rows already there; these
rules decide, and every one keeps what a person or a channel did:

People (``users``, ``progress``, ``mark_events``, ``follows``, ``channel_members``,
``subscriptions.created_by``):
- a mark on the same report under both ids: ``done`` wins over any other status (a report
  read in one workspace stays read); otherwise the later change wins (the latest intent);
- every mark event moves (the history streaks are counted from keeps both sides);
- a path followed under both ids keeps the later date (``next`` puts it first);
- the name is the one seen last; membership of a channel keeps the later sighting.

Channels (``subscriptions``, ``deliveries``, ``channel_covered``, ``channel_members``,
``dashboard_links``):
- a channel with an active subscription under both ids (a Slack Connect channel that was
  subscribed from each side) keeps the older active one; the other is ended with
  :data:`MERGED`, so the channel gets one post a week. Ended subscriptions and every
  delivery row move as they are;
- a report covered under both ids is ``posted`` if either posted it, else the earlier;
- the study-group page link kept is the older one (the other link stops working;
  ``dashboard reset`` makes a new one).

These run on a synchronous connection inside the caller's transaction (Alembic's, or the
store's write transaction through ``run_sync``), on SQLite and PostgreSQL alike. Revision
0005 runs them on the tables as they were at 0004, so they name every column they read
or write (a column a later revision adds is carried along untouched); a later table that
holds Slack ids must be added here only for databases that have it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, select, update

from roadmap_bot.store import schema as t

MERGED = (
    "merged: this Slack channel is shared (Slack Connect, or several workspaces of one "
    "organization) and keeps one weekly digest, subscription {kept}"
)


@dataclass
class Renamed:
    """How many ids moved, and which subscriptions ended as duplicates."""

    people: int = 0
    channels: int = 0
    ended: int = 0


@dataclass(frozen=True)
class Installation:
    """A Slack installation as slack_sdk's tables (or a bot token's auth.test) know it."""

    team: str | None
    enterprise: str | None = None
    org_wide: bool = False

    @property
    def key(self) -> str:
        """Whose channels these are: the enterprise of an org-wide install, else the team."""
        if self.org_wide and self.enterprise:
            return self.enterprise
        return self.team or self.enterprise or ""


def _parts(qualified: str) -> tuple[str, str]:
    """'slack:T1:C1' -> ('T1', 'C1')."""
    _, owner, rest = qualified.split(":", 2)
    return owner, rest


def plan(
    conn: Connection, installations: list[Installation]
) -> tuple[dict[str, str], dict[str, str]]:
    """Which Slack ids move where, from what the installations tell (old -> new).

    - People: a workspace that belongs to a Grid organization (an installation names both)
      turns ``slack:<team>:U`` into ``slack:<enterprise>:U``. With one installation only,
      every channel and person is reached through it: under a Grid organization every
      person is ``slack:<enterprise>:U``, as the adapter now names them.
    - Channels: with one installation only, every channel is ``slack:<its key>:C``. With
      several, a channel id found under a workspace that is no installation of ours (the
      typing member's own team, in a Slack Connect channel) moves to the one installed
      key it is also found under; a channel under two installed keys stays as it is
      (each side's installation serves it; see the README).
    """
    keys = {i.key for i in installations if i.key}
    in_org = {i.team: i.enterprise for i in installations if i.team and i.enterprise}
    only = installations[0] if len(keys) == 1 else None
    people: dict[str, str] = {}
    for person in slack_user_ids(conn):
        owner, user = _parts(person)
        if only is not None and only.enterprise:
            people[person] = f"slack:{only.enterprise}:{user}"
        elif owner in in_org:
            people[person] = f"slack:{in_org[owner]}:{user}"
    channels: dict[str, str] = {}
    found = slack_channel_ids(conn)
    if only is not None:
        for channel in found:
            channels[channel] = f"slack:{only.key}:{_parts(channel)[1]}"
    else:
        by_id: dict[str, list[str]] = {}
        for channel in found:
            by_id.setdefault(_parts(channel)[1], []).append(channel)
        for same in by_id.values():
            ours = [c for c in same if _parts(c)[0] in keys]
            if len(ours) == 1:
                for channel in same:
                    channels[channel] = ours[0]
    return (
        {old: new for old, new in people.items() if old != new},
        {old: new for old, new in channels.items() if old != new},
    )


def slack_user_ids(conn: Connection) -> set[str]:
    """Every Slack person id the store holds, wherever it is kept."""
    return _slack_values(
        conn,
        t.users.c.id,
        t.progress.c.user_id,
        t.mark_events.c.user_id,
        t.follows.c.user_id,
        t.channel_members.c.user_id,
        t.subscriptions.c.created_by,
    )


def slack_channel_ids(conn: Connection) -> set[str]:
    """Every Slack channel id the store holds, wherever it is kept."""
    return _slack_values(
        conn,
        t.subscriptions.c.channel,
        t.deliveries.c.channel,
        t.channel_covered.c.channel,
        t.channel_members.c.channel,
        t.dashboard_links.c.channel,
    )


def _slack_values(conn: Connection, *columns: Any) -> set[str]:
    found: set[str] = set()
    for column in columns:
        found.update(
            conn.execute(select(column).distinct().where(column.like("slack:%"))).scalars()
        )
    return found


def rename(
    conn: Connection,
    *,
    people: Mapping[str, str],
    channels: Mapping[str, str],
    now: datetime,
) -> Renamed:
    """Move every row of each old id to its new one, by the rules above."""
    done = Renamed()
    for old, new in people.items():
        if old != new:
            _rename_person(conn, old, new)
            done.people += 1
    for old, new in channels.items():
        if old != new:
            done.ended += _rename_channel(conn, old, new, now)
            done.channels += 1
    return done


# -- people ---------------------------------------------------------------------------------


def _rename_person(conn: Connection, old: str, new: str) -> None:
    users = t.users
    person = select(users.c.name, users.c.seen_at)
    before = conn.execute(person.where(users.c.id == old)).mappings().first()
    if before is not None:
        there = conn.execute(person.where(users.c.id == new)).mappings().first()
        if there is None:
            conn.execute(update(users).where(users.c.id == old).values(id=new))
        else:
            later = before if before["seen_at"] > there["seen_at"] else there
            conn.execute(
                update(users)
                .where(users.c.id == new)
                .values(name=later["name"], seen_at=later["seen_at"])
            )
            conn.execute(delete(users).where(users.c.id == old))

    progress = t.progress
    marks = select(progress.c.project, progress.c.status, progress.c.updated_at)
    for mark in conn.execute(marks.where(progress.c.user_id == old)).mappings().all():
        where = and_(progress.c.user_id == new, progress.c.project == mark["project"])
        there = conn.execute(marks.where(where)).mappings().first()
        if there is None:
            conn.execute(
                update(progress)
                .where(progress.c.user_id == old, progress.c.project == mark["project"])
                .values(user_id=new)
            )
            continue
        if _mark_wins(mark, there):
            conn.execute(
                update(progress)
                .where(where)
                .values(status=mark["status"], updated_at=mark["updated_at"])
            )
        conn.execute(
            delete(progress).where(progress.c.user_id == old, progress.c.project == mark["project"])
        )

    conn.execute(update(t.mark_events).where(t.mark_events.c.user_id == old).values(user_id=new))
    conn.execute(
        update(t.subscriptions).where(t.subscriptions.c.created_by == old).values(created_by=new)
    )
    _move_keyed(conn, t.follows, "user_id", old, new, key="path", keep="followed_at")
    _move_keyed(conn, t.channel_members, "user_id", old, new, key="channel", keep="seen_at")


def _mark_wins(mark: RowMapping, there: RowMapping) -> bool:
    """Does ``mark`` replace ``there``: done beats the rest, else the later change."""
    if (mark["status"] == "done") != (there["status"] == "done"):
        return bool(mark["status"] == "done")
    return bool(mark["updated_at"] > there["updated_at"])


def _move_keyed(
    conn: Connection, table: Any, column: str, old: str, new: str, *, key: str, keep: str
) -> None:
    """Move rows keyed (column, key) from ``old`` to ``new``; where ``new`` has the same
    key already, the later ``keep`` instant stays."""
    mine, other = table.c[column], table.c[key]
    rows = select(other, table.c[keep])
    for row in conn.execute(rows.where(mine == old)).mappings().all():
        where_new = and_(mine == new, other == row[key])
        there = conn.execute(rows.where(where_new)).mappings().first()
        if there is None:
            conn.execute(update(table).where(mine == old, other == row[key]).values({column: new}))
            continue
        if row[keep] > there[keep]:
            conn.execute(update(table).where(where_new).values({keep: row[keep]}))
        conn.execute(delete(table).where(mine == old, other == row[key]))


# -- channels -------------------------------------------------------------------------------


def _rename_channel(conn: Connection, old: str, new: str, now: datetime) -> int:
    subs = t.subscriptions
    active = (
        conn.execute(
            select(subs.c.id, subs.c.created_at)
            .where(subs.c.channel.in_((old, new)), subs.c.ended_at.is_(None))
            .order_by(subs.c.created_at, subs.c.id)
        )
        .mappings()
        .all()
    )
    ended = 0
    if len(active) > 1:
        kept = active[0]["id"]
        for extra in active[1:]:
            conn.execute(
                update(subs)
                .where(subs.c.id == extra["id"])
                .values(ended_at=now, ended_why=MERGED.format(kept=f"#{kept}"))
            )
            ended += 1
    conn.execute(update(subs).where(subs.c.channel == old).values(channel=new))
    conn.execute(update(t.deliveries).where(t.deliveries.c.channel == old).values(channel=new))
    _merge_covered(conn, old, new)
    _move_keyed(conn, t.channel_members, "channel", old, new, key="user_id", keep="seen_at")
    links = t.dashboard_links
    link = select(links.c.created_at)
    mine = conn.execute(link.where(links.c.channel == old)).mappings().first()
    if mine is not None:
        there = conn.execute(link.where(links.c.channel == new)).mappings().first()
        if there is None:
            conn.execute(update(links).where(links.c.channel == old).values(channel=new))
        else:
            if mine["created_at"] < there["created_at"]:
                conn.execute(delete(links).where(links.c.channel == new))
                conn.execute(update(links).where(links.c.channel == old).values(channel=new))
            else:
                conn.execute(delete(links).where(links.c.channel == old))
    return ended


def _merge_covered(conn: Connection, old: str, new: str) -> None:
    covered = t.channel_covered
    rows = select(covered.c.project, covered.c.how, covered.c.at)
    for row in conn.execute(rows.where(covered.c.channel == old)).mappings().all():
        mine = and_(covered.c.channel == old, covered.c.project == row["project"])
        where_new = and_(covered.c.channel == new, covered.c.project == row["project"])
        there = conn.execute(rows.where(where_new)).mappings().first()
        if there is None:
            conn.execute(update(covered).where(mine).values(channel=new))
            continue
        # 'posted' beats 'skipped'; between equals, the earlier stays
        order = (row["how"] != "posted", row["at"]) < (there["how"] != "posted", there["at"])
        if order:
            conn.execute(update(covered).where(where_new).values(how=row["how"], at=row["at"]))
        conn.execute(delete(covered).where(mine))
