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
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from roadmap_bot.store import legacy
from roadmap_bot.store.database import SQLITE, Database, StoreError, reason

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# Legacy schema number -> the Alembic revision that describes the same tables.
LEGACY_REVISIONS = {3: "0001", 4: "0002", 5: "0003", 6: "0004"}
_FIRST_ADOPTED = min(LEGACY_REVISIONS)
# Written to PRAGMA user_version once Alembic owns a SQLite file: releases from before
# Alembic read it as a schema newer than theirs and refuse to run on it.
ALEMBIC_USER_VERSION = 1000
# pg_advisory_xact_lock key: "roadmap" in ASCII, any constant the app owns will do.
_PG_LOCK = 0x726F61646D6170
# Alembic is imported only when a database is not at the head already: a database that
# is up to date (nearly every start) is told so by one query and a look at the files.
_VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
_REVISION_LINE = re.compile(r'^(revision|down_revision) = (?:"([^"\n]+)"|None)[ \t]*$', re.M)
VERSION_TABLE = "alembic_version"


@lru_cache(maxsize=1)
def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "roadmap_bot.store:migrations")
    return config


@lru_cache(maxsize=1)
def head() -> str:
    """The newest revision this program knows."""
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None, "store/migrations has no revision"
    return found


@lru_cache(maxsize=1)
def plain_head() -> str | None:
    """:func:`head` read from the revision files' ``revision = "..."`` lines without
    Alembic: the one revision no other revises; None when the files do not say plainly."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for file in _VERSIONS.glob("*.py"):
        lines = dict(_REVISION_LINE.findall(file.read_text(encoding="utf-8")))
        if "revision" not in lines or "down_revision" not in lines:
            return None  # written some other way: let Alembic read it
        revisions.add(lines["revision"])
        revised.add(lines["down_revision"])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


def _known(revision: str) -> bool:
    from alembic.script import ScriptDirectory

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
        newest = plain_head()
        if newest is not None and await _recorded(db) == newest:
            return Upgrade(newest, newest)
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


async def _recorded(db: Database) -> str | None:
    """The one revision recorded in the database, read without Alembic; None when there
    is no version table or it does not hold exactly one row."""
    async with db.read() as conn:
        return await conn.run_sync(_one_version)


def _one_version(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _newer(name: str, found: str) -> StoreError:
    return StoreError(
        f"database {name} has schema {found}, newer than this roadmap-bot (schema {head()}); "
        "upgrade roadmap-bot"
    )


def _upgrade(conn: Connection, name: str) -> Upgrade:
    """Runs inside the write transaction, on the sync side of the async connection."""
    from alembic import command

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
