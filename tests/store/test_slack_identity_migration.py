"""Revision 0005 on both engines: a database holding the Slack ids of revision 0004 (built
with Alembic, rows as the bot wrote them) upgrades with every row accounted for; and a
single-token bot moves its rows when auth.test names its installation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from alembic.config import Config
from slack_sdk.oauth.installation_store import Installation as SlackInstallation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy import Table, insert, select

from roadmap_bot.store import schema as t
from roadmap_bot.store.database import Database
from roadmap_bot.store.identity import MERGED, Installation
from roadmap_bot.store.migrate import head
from roadmap_bot.store.sql import SqlStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


async def database_at_0004(where: str) -> Database:
    """A database built by Alembic up to revision 0004 (the ids before this change)."""
    db = await Database.open(where)
    config = Config()
    config.set_main_option("script_location", "roadmap_bot.store:migrations")
    async with db.write() as conn:

        def build(sync: Any) -> None:
            config.attributes["connection"] = sync
            command.upgrade(config, "0004")

        await conn.run_sync(build)
    return db


async def _installed(db: Database, *installs: tuple[str | None, str | None, bool]) -> None:
    """slack_sdk's own installation tables, as an OAuth bot has them."""
    store = AsyncSQLAlchemyInstallationStore(client_id="1111.2222", engine=db.engine)
    await store.create_tables()  # type: ignore[no-untyped-call]
    for number, (team, enterprise, org_wide) in enumerate(installs):
        await store.async_save(
            SlackInstallation(
                app_id="A1",
                enterprise_id=enterprise,
                team_id=team,
                bot_token=f"xoxb-{number}",
                bot_id="B1",
                bot_user_id="UBOT",
                user_id="UINSTALLER",
                is_enterprise_install=org_wide,
                installed_at=T0.timestamp(),
            )
        )


async def add_rows(db: Database, table: Table, *rows: dict[str, Any]) -> None:
    async with db.write() as conn:
        await conn.execute(insert(table), list(rows))


async def _all(store: SqlStore, table: Table, *order: str) -> list[tuple[Any, ...]]:
    async with store.db.read() as conn:
        query = select(table).order_by(*(table.c[o] for o in order))
        return [tuple(row) for row in (await conn.execute(query)).all()]


def subscription_row(
    id: int, channel: str, by: str, created: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "id": id,
        "channel": channel,
        "target": "level:beginner",
        "weekday": 0,
        "at_time": "09:00",
        "timezone": "UTC",
        "created_by": by,
        "created_at": created,
        "next_due_at": at(200),
        "paused_until": None,
        "problem": None,
        "ended_at": None,
        "ended_why": None,
        **extra,
    }


def _delivery(id: str, sub: int, channel: str) -> dict[str, Any]:
    return {
        "id": id,
        "subscription_id": sub,
        "channel": channel,
        "week": T0.date(),
        "due_at": T0,
        "kind": "digest",
        "project": "redis",
        "state": "sent",
        "attempts": 1,
        "sent_at": T0,
        "message_id": "1.2",
    }


async def test_revision_0005_rewrites_todays_ids_with_nothing_lost(database: str) -> None:
    db = await database_at_0004(database)
    # Two workspaces of the Grid organization E0G installed one by one, and a plain one.
    await _installed(db, ("T0A", "E0G", False), ("T0B", "E0G", False), ("T1", None, False))
    grace_a, grace_b, alice = "slack:T0A:W1", "slack:T0B:W1", "slack:T1:U1"
    await add_rows(
        db,
        t.users,
        {"id": grace_a, "name": "grace", "seen_at": at(1)},
        {"id": grace_b, "name": "Grace H", "seen_at": at(6)},
        {"id": alice, "name": "alice", "seen_at": at(1)},
        {"id": "console:bob", "name": "bob", "seen_at": at(1)},
    )
    await add_rows(
        db,
        t.progress,
        {"user_id": grace_a, "project": "redis", "status": "done", "updated_at": at(1)},
        {"user_id": grace_a, "project": "kafka", "status": "reading", "updated_at": at(2)},
        {"user_id": grace_b, "project": "redis", "status": "reading", "updated_at": at(3)},
        {"user_id": grace_b, "project": "kafka", "status": "skipped", "updated_at": at(4)},
        {"user_id": grace_b, "project": "etcd", "status": "done", "updated_at": at(5)},
        {"user_id": alice, "project": "fzf", "status": "done", "updated_at": at(1)},
    )
    await add_rows(
        db,
        t.mark_events,
        {"user_id": grace_a, "project": "redis", "status": "done", "at": at(1)},
        {"user_id": grace_a, "project": "kafka", "status": "reading", "at": at(2)},
        {"user_id": grace_b, "project": "redis", "status": "reading", "at": at(3)},
        {"user_id": grace_b, "project": "kafka", "status": "skipped", "at": at(4)},
        {"user_id": grace_b, "project": "etcd", "status": "done", "at": at(5)},
    )
    await add_rows(
        db,
        t.follows,
        {"user_id": grace_a, "path": "observability-stack", "followed_at": at(1)},
        {"user_id": grace_b, "path": "observability-stack", "followed_at": at(5)},
        {"user_id": grace_b, "path": "web-development", "followed_at": at(2)},
    )
    # A Slack Connect channel subscribed from both sides: the host T1 (installed) first,
    # then from the other organization's team T0EXT (no installation of ours).
    host, other = "slack:T1:C9", "slack:T0EXT:C9"
    await add_rows(
        db,
        t.subscriptions,
        subscription_row(1, host, alice, at(1)),
        subscription_row(2, other, "slack:T0EXT:U7", at(2)),
        subscription_row(3, "slack:T0A:C5", grace_a, at(3)),
        subscription_row(
            4, other, "slack:T0EXT:U7", at(0), ended_at=at(1), ended_why="unsubscribed"
        ),
    )
    await add_rows(db, t.deliveries, _delivery("1-w", 1, host), _delivery("2-w", 2, other))
    await add_rows(
        db,
        t.channel_covered,
        {"channel": host, "project": "redis", "how": "skipped", "at": at(3)},
        {"channel": other, "project": "redis", "how": "posted", "at": at(4)},
        {"channel": other, "project": "kafka", "how": "posted", "at": at(2)},
    )
    await add_rows(
        db,
        t.channel_members,
        {"channel": host, "user_id": alice, "seen_at": at(1)},
        {"channel": other, "user_id": alice, "seen_at": at(8)},
        {"channel": other, "user_id": "slack:T0EXT:U7", "seen_at": at(2)},
        {"channel": "slack:T0A:C5", "user_id": grace_a, "seen_at": at(1)},
        {"channel": "slack:T0A:C5", "user_id": grace_b, "seen_at": at(7)},
    )
    await add_rows(
        db,
        t.dashboard_links,
        {"channel": host, "token_hash": "h-host", "salt": "s1", "created_at": at(2)},
        {"channel": other, "token_hash": "h-other", "salt": "s2", "created_at": at(1)},
    )
    # A channel both installed workspaces subscribed: each side's installation serves it.
    await add_rows(
        db,
        t.channel_covered,
        {"channel": "slack:T0A:C7", "project": "fzf", "how": "posted", "at": at(1)},
        {"channel": "slack:T0B:C7", "project": "fzf", "how": "posted", "at": at(1)},
    )
    await db.close()

    store = await SqlStore.open(database)  # upgrades to head
    try:
        grace = "slack:E0G:W1"
        assert head() >= "0005"  # upgraded through 0005 (later revisions follow it)
        assert await _all(store, t.users, "id") == [
            ("console:bob", "bob", at(1)),
            (grace, "Grace H", at(6)),  # the name seen last
            (alice, "alice", at(1)),
        ]
        assert await _all(store, t.progress, "user_id", "project") == [
            (grace, "etcd", "done", at(5)),
            (grace, "kafka", "skipped", at(4)),  # the later change
            (grace, "redis", "done", at(1)),  # done wins over a later 'reading'
            (alice, "fzf", "done", at(1)),
        ]
        events = await _all(store, t.mark_events, "at")
        assert [(e[0], e[1], e[2]) for e in events] == [
            (grace, "redis", "done"),
            (grace, "kafka", "reading"),
            (grace, "redis", "reading"),
            (grace, "kafka", "skipped"),
            (grace, "etcd", "done"),
        ]
        assert await _all(store, t.follows, "user_id", "path") == [
            (grace, "observability-stack", at(5)),
            (grace, "web-development", at(2)),
        ]
        subs = {row[0]: row for row in await _all(store, t.subscriptions, "id")}
        assert {i: (s[1], s[6], s[12]) for i, s in subs.items()} == {
            1: (host, alice, None),  # the older active one stays
            2: (host, "slack:T0EXT:U7", MERGED.format(kept="#1")),
            3: ("slack:T0A:C5", grace, None),  # a workspace install keys its channels
            4: (host, "slack:T0EXT:U7", "unsubscribed"),
        }
        assert subs[1][11] is None and subs[2][11] is not None
        deliveries = await _all(store, t.deliveries, "id")
        assert [(d[0], d[1], d[2]) for d in deliveries] == [("1-w", 1, host), ("2-w", 2, host)]
        assert await _all(store, t.channel_covered, "channel", "project") == [
            ("slack:T0A:C7", "fzf", "posted", at(1)),
            ("slack:T0B:C7", "fzf", "posted", at(1)),
            (host, "kafka", "posted", at(2)),
            (host, "redis", "posted", at(4)),  # posted beats skipped
        ]
        assert await _all(store, t.channel_members, "channel", "user_id") == [
            ("slack:T0A:C5", grace, at(7)),
            (host, "slack:T0EXT:U7", at(2)),
            (host, alice, at(8)),
        ]
        links = await _all(store, t.dashboard_links, "channel")
        assert [(row[0], row[1]) for row in links] == [(host, "h-other")]  # the older link
    finally:
        await store.close()


async def test_one_org_wide_install_takes_every_channel_and_person(database: str) -> None:
    db = await database_at_0004(database)
    await _installed(db, (None, "E0G", True))
    await add_rows(
        db,
        t.users,
        {"id": "slack:T0A:W1", "name": "grace", "seen_at": at(1)},
        {"id": "slack:T0B:W2", "name": "hedy", "seen_at": at(1)},
    )
    await add_rows(db, t.subscriptions, subscription_row(1, "slack:T0A:C5", "slack:T0A:W1", at(1)))
    await db.close()
    store = await SqlStore.open(database)
    try:
        assert [u[0] for u in await _all(store, t.users, "id")] == [
            "slack:E0G:W1",
            "slack:E0G:W2",
        ]
        [sub] = await _all(store, t.subscriptions, "id")
        assert (sub[1], sub[6]) == ("slack:E0G:C5", "slack:E0G:W1")
    finally:
        await store.close()


async def test_a_single_token_bot_adopts_its_installation(database: str) -> None:
    db = await database_at_0004(database)
    await add_rows(
        db,
        t.subscriptions,
        subscription_row(1, "slack:T1:C9", "slack:T1:U1", at(1)),
        subscription_row(2, "slack:T0EXT:C9", "slack:T0EXT:U7", at(2)),
    )
    await db.close()
    store = await SqlStore.open(database)
    try:
        # no installation tables: 0005 cannot know which team is ours, and leaves the rows
        assert len(await _all(store, t.subscriptions, "id")) == 2
        moved = await store.adopt_slack_installation(Installation("T1"), at(9))
        assert (moved.channels, moved.ended) == (1, 1)
        subs = await _all(store, t.subscriptions, "id")
        assert [(s[1], s[11], s[12]) for s in subs] == [
            ("slack:T1:C9", None, None),
            ("slack:T1:C9", at(9), MERGED.format(kept="#1")),
        ]
        again = await store.adopt_slack_installation(Installation("T1"), at(10))
        assert (again.people, again.channels) == (0, 0)  # nothing left to move
    finally:
        await store.close()
