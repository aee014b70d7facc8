"""Bring a database to the schema this program was built for, or refuse one that is newer.

Alembic's revisions live in ``store/migrations``. A SQLite file written before Alembic
(schema numbered by ``PRAGMA user_version``, see ``store/legacy.py``) is adopted in place:
it is stamped with the revision that describes its tables (one older than 0.1 first gets
0.1's own steps) and upgraded like any other. Everything happens in one transaction that holds the database's
write lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so processes
and replicas that start together migrate once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from roadmap_bot.store import legacy
from roadmap_bot.store.database import SQLITE, Database, StoreError, reason

log = logging.getLogger(__name__)

# Legacy schema number -> the Alembic revision that describes the same tables.
LEGACY_REVISIONS = {3: "0001", 4: "0002", 5: "0003", 6: "0004"}
_FIRST_ADOPTED = min(LEGACY_REVISIONS)
# Written to PRAGMA user_version once Alembic owns a SQLite file: releases from before
# Alembic read it as a schema newer than theirs and refuse to run on it.
ALEMBIC_USER_VERSION = 1000
# pg_advisory_xact_lock key: "roadmap" in ASCII, any constant the app owns will do.
_PG_LOCK = 0x726F61646D6170


@lru_cache(maxsize=1)
def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "roadmap_bot.store:migrations")
    return config


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision this program knows."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None, "store/migrations has no revision"
    return found


def _known(revision: str) -> bool:
    scripts = ScriptDirectory.from_config(_config())
    return any(script.revision == revision for script in scripts.walk_revisions())


@dataclass(frozen=True)
class Upgrade:
    before: str | None  # None: an empty database
    after: str


async def current(db: Database) -> str | None:
    """The database's revision; None when it has none (empty, or from before Alembic)."""
    async with db.read() as conn:
        return await conn.run_sync(_revision)


async def upgrade(db: Database) -> Upgrade:
    """Migrate to :func:`head`; :class:`StoreError` if the database is newer than that."""
    try:
        if await current(db) == head():
            return Upgrade(head(), head())
        async with db.write() as conn:
            if db.dialect != SQLITE:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
            done = await conn.run_sync(_upgrade, db.name)
    except DBAPIError as exc:
        raise StoreError(f"cannot use database {db.name}: {reason(exc)}") from exc
    if done.before != done.after:
        log.info("database %s migrated from %s to %s", db.name, done.before, done.after)
    return done


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _newer(name: str, found: str) -> StoreError:
    return StoreError(
        f"database {name} has schema {found}, newer than this roadmap-bot (schema {head()}); "
        "upgrade roadmap-bot"
    )


def _upgrade(conn: Connection, name: str) -> Upgrade:
    """Runs inside the write transaction, on the sync side of the async connection."""
    revision = _revision(conn)  # again, now that we hold the lock
    before = revision
    if revision is not None and not _known(revision):
        raise _newer(name, revision)
    config = _config()
    config.attributes["connection"] = conn
    if revision is None and conn.dialect.name == SQLITE:
        version = int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
        if version > max(LEGACY_REVISIONS):
            raise _newer(name, f"user_version {version}")
        if version > 0:
            _adopt(conn, version, name)
            command.stamp(config, LEGACY_REVISIONS[max(version, _FIRST_ADOPTED)])
            before = f"user_version {version}"
    command.upgrade(config, "head")
    if conn.dialect.name == SQLITE:
        conn.exec_driver_sql(f"PRAGMA user_version = {ALEMBIC_USER_VERSION}")
    return Upgrade(before, head())


def _adopt(conn: Connection, version: int, name: str) -> None:
    """Bring a file from before the first release up to it, as that release would have."""
    for number in range(version + 1, _FIRST_ADOPTED + 1):
        for statement in legacy.MIGRATIONS[number - 1]:
            conn.exec_driver_sql(statement)
        log.info("database %s: legacy schema %d applied", name, number)
