"""One database behind the store: a SQLite file (the default) or a PostgreSQL server.

Both are SQLAlchemy async engines (aiosqlite, asyncpg) and share one schema; what differs
is kept here. SQLite: WAL lets readers run beside the writer, and every write is one
``BEGIN IMMEDIATE`` transaction, so it takes the write lock up front instead of failing
half-way when a second process writes too; within a process an asyncio lock keeps one
writer at a time. PostgreSQL: every write is one transaction on a pooled connection;
the ledger takes row locks where replicas compete.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 15_000
SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class StoreError(Exception):
    """The database cannot be opened, or is newer than this program; the message says why."""


def database_url(where: str | Path) -> URL:
    """A SQLite path or a database URL (``sqlite:///file.db``, ``postgresql://...``) as the
    async engine's URL."""
    text = str(where)
    if "://" not in text:
        return URL.create("sqlite+aiosqlite", database=text)
    try:
        url = make_url(text)
    except ArgumentError:
        raise StoreError(
            f"cannot read the database URL {_redacted(text)!r}: "
            "use sqlite:///roadmap-bot.db or postgresql://user:password@host/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend == SQLITE:
        return url.set(drivername="sqlite+aiosqlite")
    if backend in (POSTGRESQL, "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise StoreError(
        f"roadmap-bot cannot use a {backend} database: "
        "use sqlite:///roadmap-bot.db or postgresql://user:password@host/dbname"
    )


def _redacted(text: str) -> str:
    try:
        return make_url(text).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unreadable URL>"


class Database:
    """An engine plus the two kinds of work the store does on it: reads and writes."""

    def __init__(self, engine: AsyncEngine, url: URL) -> None:
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name  # 'sqlite' or 'postgresql'
        # for messages and logs: a file's path, or the server's URL without its password
        self.name = (
            url.database or ":memory:"
            if self.dialect == SQLITE
            else url.set(drivername=self.dialect).render_as_string(hide_password=True)
        )
        self._write_lock = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> str | None:
        """The SQLite file (':memory:' for a private memory database); None on a server."""
        if self.dialect != SQLITE:
            return None
        return self.url.database or ":memory:"

    @classmethod
    async def open(cls, where: str | Path) -> Database:
        """Connect (a SQLite file is created if missing); no migration happens here."""
        url = database_url(where)
        if url.get_backend_name() == SQLITE:
            engine = _sqlite_engine(url)
        else:
            engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        database = cls(engine, url)
        try:
            async with engine.connect() as conn:
                if database.dialect == SQLITE and database.path != ":memory:":
                    await _enable_wal(conn)
        except (DBAPIError, OSError) as exc:
            await engine.dispose()
            raise StoreError(f"cannot use database {database.name}: {reason(exc)}") from exc
        return database

    async def close(self) -> None:
        self._closed = True  # a disposed engine would quietly connect again
        await self.engine.dispose()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"database {self.name} is closed")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading (on SQLite, outside any transaction: WAL snapshots)."""
        self._check_open()
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(
        self, after_commit: Callable[[], None] | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """One write transaction, committed at the end, rolled back on error.

        ``after_commit`` runs right after the commit, before anything else of this process
        can run (on SQLite still under the write lock): a cache learns of the write in the
        order writes were committed."""
        self._check_open()
        if self.dialect == SQLITE:
            async with self._write_lock, self.engine.connect() as conn:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    await conn.rollback()
                    raise
                await conn.commit()
                if after_commit is not None:
                    after_commit()
        else:
            async with self.engine.connect() as conn:
                async with conn.begin():
                    yield conn
                if after_commit is not None:
                    after_commit()


def _sqlite_engine(url: URL) -> AsyncEngine:
    path = url.database or ":memory:"
    memory = path == ":memory:"
    if not memory:
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise StoreError(f"cannot open database {path}: folder {parent} does not exist")
    engine = create_async_engine(
        url,
        # the driver's own transaction handling is off: write() says BEGIN IMMEDIATE itself
        connect_args={"isolation_level": None},
        # a memory database lives in one connection; a file takes a small pool (each is a
        # thread in aiosqlite): reads run beside the writer
        poolclass=StaticPool if memory else None,
        # every write ends in COMMIT or ROLLBACK, reads never BEGIN: nothing to reset
        pool_reset_on_return=None,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return engine


async def _enable_wal(conn: AsyncConnection) -> None:
    """Switch to WAL. On a brand-new file two processes may race here, and SQLite answers
    'locked' at once instead of waiting on the busy timeout: retry briefly."""
    for attempt in range(50):
        try:
            await conn.exec_driver_sql("PRAGMA journal_mode = WAL")
            return
        except DBAPIError as exc:
            if "locked" not in str(exc.orig) or attempt == 49:
                raise
            await asyncio.sleep(0.05 + 0.01 * attempt)


def reason(exc: BaseException) -> str:
    """The database's own words for what went wrong, without SQLAlchemy's wrapping."""
    if isinstance(exc, DBAPIError):
        original = exc.orig
        if isinstance(original, sqlite3.Error):
            return str(original)
        return str(original).strip().splitlines()[0] if str(original).strip() else repr(original)
    return str(exc)
