"""Alembic migrations: a release's file upgrades in place, the schema matches, newer is refused."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from roadmap_bot.config import load_settings
from roadmap_bot.store import Mark, Status
from roadmap_bot.store.database import Database, StoreError
from roadmap_bot.store.digests import DeliveryState, DigestStore
from roadmap_bot.store.groups import GroupStore
from roadmap_bot.store.migrate import ALEMBIC_USER_VERSION, head, plain_head
from roadmap_bot.store.reports import ReportCache
from roadmap_bot.store.schema import metadata
from roadmap_bot.store.sql import SqlStore
from roadmap_bot.weekly import Schedule
from test_cli import offline_report_url, run

RELEASE = Path(__file__).parent / "data" / "release-0.1.db"  # see make_release_db.py there
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def release_db(tmp_path: Path) -> Path:
    copy = tmp_path / "release.db"
    shutil.copy(RELEASE, copy)
    return copy


async def test_a_release_database_upgrades_in_place_with_every_row(release_db: Path) -> None:
    store = await SqlStore.open(release_db)
    digests = DigestStore(store)
    try:
        assert await store.user_names(["slack:T1:U1", "discord:9:7"]) == {
            "slack:T1:U1": "Ada",
            "discord:9:7": "Grace Hopper",
        }
        assert await store.progress_of(["slack:T1:U1", "discord:9:7"]) == {
            "slack:T1:U1": {
                "redis": Mark(Status.DONE, T0),
                "kafka": Mark(Status.READING, at("2026-11-23T10:00:00+00:00")),
            },
            "discord:9:7": {"etcd": Mark(Status.SKIPPED, at("2026-11-24T09:00:00+00:00"))},
        }
        assert await store.get_meta("catalog_version") == "2026-11"
        # revision 0004 starts the mark history from each mark's latest change
        assert await GroupStore(store).first_reads(["slack:T1:U1"], ["redis", "kafka"]) == {
            "slack:T1:U1": {"redis": T0, "kafka": at("2026-11-23T10:00:00+00:00")}
        }

        active = {s.channel: s for s in await digests.active()}
        assert set(active) == {"slack:T1:C1", "console:study"}  # the ended one is not
        storage = active["slack:T1:C1"]
        assert (storage.id, storage.target, storage.created_by) == (
            1,
            "path:storage",
            "slack:T1:U1",
        )
        assert storage.schedule == Schedule(0, time(9, 0), "Europe/Berlin")
        assert storage.created_at == T0
        assert storage.next_due_at == at("2026-12-28T08:00:00+00:00")
        paused = active["console:study"]
        assert paused.paused_until == date(2026, 12, 24)
        assert paused.problem == "channel_not_found"
        assert paused.schedule == Schedule(2, time(8, 0), "Asia/Tokyo")
        assert await digests.subscription("discord:9:5") is None

        ledger = await digests.deliveries("slack:T1:C1")
        assert [(d.week, d.state, d.attempts) for d in ledger] == [
            (date(2026, 12, 21), DeliveryState.MISSED, 0),
            (date(2026, 12, 14), DeliveryState.CLAIMED, 1),
            (date(2026, 12, 7), DeliveryState.FAILED, 1),
            (date(2026, 11, 30), DeliveryState.SENT, 1),
        ]
        sent = ledger[-1]
        assert (sent.id, sent.project, sent.message_id, sent.kind) == (
            "1-2026-11-30",
            "redis",
            "1764489600.000100",
            "digest",
        )
        assert sent.due_at == sent.sent_at == sent.claimed_at == at("2026-11-30T08:00:00+00:00")
        assert ledger[2].error == "rate_limited"

        facts = (await digests.channel_facts(["slack:T1:C1"]))["slack:T1:C1"]
        assert facts.covered == {"kafka": "skipped", "redis": "posted"}
        assert facts.posted == ["redis"]
        assert facts.members == ["slack:T1:U1"]

        cache = ReportCache(store)
        redis = await cache.get("redis")
        assert redis is not None and redis.outline is not None
        assert '"decisions":[{"title":"Single-threaded event loop"' in redis.outline
        assert (redis.etag, redis.fetched_at, redis.parser) == ('"abc"', T0, 3)
        nope = await cache.get("nope")
        assert nope is not None
        assert (nope.outline, nope.problem, nope.failure, nope.failed_at) == (
            None,
            "404 Not Found",
            "timeout",
            T0,
        )
        # 0.1's claim in flight has no lease: the next worker takes it over
        [taken] = await digests.take_abandoned(
            "new", at("2026-12-14T08:00:00+00:00"), timedelta(minutes=2), platforms=["slack"]
        )
        assert (taken.id, taken.claimed_by, taken.attempts) == ("1-2026-12-14", "new", 1)
        # and it goes on working: new rows beside the old ones
        await store.set_mark("slack:T1:U1", "etcd", Status.DONE, T0)
        assert set(await store.progress("slack:T1:U1")) == {"redis", "kafka", "etcd"}
    finally:
        await store.close()
    conn = sqlite3.connect(release_db)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == ALEMBIC_USER_VERSION
    conn.close()


def _differences(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def test_the_migrations_build_exactly_the_schema(database: str) -> None:
    store = await SqlStore.open(database)
    try:
        async with store.db.read() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await store.close()


def _indexes(conn: Connection, schema: str | None = None) -> dict[str, str]:
    """The CREATE INDEX of each index the schema declares, as the database holds it."""
    names = {index.name for table in metadata.tables.values() for index in table.indexes}
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
    else:
        rows = conn.execute(
            text(
                "SELECT indexname, replace(indexdef, schemaname || '.', '') "
                "FROM pg_indexes WHERE schemaname = :schema"
            ),
            {"schema": schema},
        )
    return {name: sql for name, sql in rows if name in names}


async def test_create_all_builds_the_indexes_the_migrations_build(
    database: str, tmp_path: Path
) -> None:
    # The partial indexes' PostgreSQL condition is added as PostgreSQL's DDL is compiled
    # (store/schema.py): the schema's own DDL builds them with it, like the migrations.
    store = await SqlStore.open(database)
    try:
        async with store.db.read() as conn:
            migrated = await conn.run_sync(_indexes, "public")
        if store.dialect == "sqlite":
            fresh = await Database.open(tmp_path / "created.db")
            try:
                async with fresh.write() as conn:
                    await conn.run_sync(metadata.create_all)
                async with fresh.read() as conn:
                    created = await conn.run_sync(_indexes)
            finally:
                await fresh.close()
        else:
            async with store.db.write() as conn:
                await conn.execute(text("CREATE SCHEMA created"))
                await conn.execute(text("SET LOCAL search_path TO created"))
                await conn.run_sync(metadata.create_all)
                created = await conn.run_sync(_indexes, "created")
    finally:
        await store.close()
    assert created == migrated
    assert "WHERE" in created["subscriptions_due"]
    assert "WHERE" in created["deliveries_leases"]


# SQLite lets a rowid table's TEXT PRIMARY KEY hold NULL unless it says NOT NULL, which
# 0.1's DDL did not (INTEGER PRIMARY KEY is the rowid and never NULL). The program never
# writes NULL ids, so these stay as they are rather than rebuilding two tables on upgrade.
RELEASE_QUIRKS = {("deliveries", "id"), ("subscriptions", "id"), ("users", "id")}


async def test_an_upgraded_release_file_has_exactly_the_schema(release_db: Path) -> None:
    store = await SqlStore.open(release_db)
    try:
        async with store.db.read() as conn:
            found = await conn.run_sync(_differences)
    finally:
        await store.close()
    rest = [
        d
        for d in found
        if not (
            isinstance(d, list) and d[0][0] == "modify_nullable" and d[0][2:4] in RELEASE_QUIRKS
        )
    ]
    assert len(found) == len(RELEASE_QUIRKS)
    assert rest == []


async def test_replicas_starting_together_migrate_once(database: str) -> None:
    stores = await asyncio.gather(*(SqlStore.open(database) for _ in range(3)))
    try:
        await stores[0].set_meta("k", "v")
        assert [await s.get_meta("k") for s in stores] == ["v", "v", "v"]
    finally:
        for store in stores:
            await store.close()


async def test_a_database_newer_than_this_program_is_refused(database: str) -> None:
    store = await SqlStore.open(database)
    async with store.write() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await store.close()
    with pytest.raises(StoreError, match=r"schema 9999, newer than this roadmap-bot \(schema"):
        await SqlStore.open(database)


def test_the_revision_files_name_the_head_alembic_finds() -> None:
    # An up-to-date database is recognised without importing Alembic, by this reading.
    assert plain_head() == head()


def test_db_upgrade_says_what_it_did(release_db: Path, tmp_path: Path) -> None:
    env = {"ROADMAP_DATABASE_URL": f"sqlite:///{release_db}"}
    done = run("db", "upgrade", tmp_path=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"database {release_db}: upgraded from user_version 3 to {head()}\n"
    again = run("db", "upgrade", tmp_path=tmp_path, env=env)
    assert again.stdout == f"database {release_db}: already at schema {head()}\n"


def test_serve_refuses_a_newer_database_in_one_line(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("CREATE TABLE alembic_version (version_num TEXT PRIMARY KEY)")
    conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    conn.commit()
    conn.close()
    env = {
        "ROADMAP_DATABASE_URL": f"sqlite:///{newer}",
        # something to serve; the database is opened first, so Slack is never asked
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "test-secret",
        "SLACK_API_URL": offline_report_url().removesuffix("{name}.md"),
    }
    done = run("serve", tmp_path=tmp_path, env=env)
    assert done.returncode == 1
    assert done.stderr == (
        f"roadmap-bot: database {newer} has schema 9999, newer than this roadmap-bot "
        f"(schema {head()}); upgrade roadmap-bot\n"
    )
    assert done.stdout == ""


def test_a_bad_database_url_is_a_clear_start_up_error(tmp_path: Path) -> None:
    done = run("health", tmp_path=tmp_path, env={"ROADMAP_DATABASE_URL": "mysql://u:hunter2@h/x"})
    assert done.returncode == 1
    assert "ROADMAP_DATABASE_URL: must be sqlite:///" in done.stderr
    assert "hunter2" not in done.stderr


def test_the_database_url_and_its_password_are_redacted_secrets() -> None:
    settings = load_settings(
        ROADMAP_DATABASE_URL="postgresql://bot:s3cret@db.internal:5432/roadmap"
    )
    assert settings.database == "postgresql://bot:s3cret@db.internal:5432/roadmap"
    assert "s3cret" in settings.secret_values()  # the log redactor hides it on its own too
    assert "s3cret" not in repr(settings)
