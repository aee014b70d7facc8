"""The embedded store: one SQLite file through aiosqlite.

WAL lets readers run beside the writer; every write is one ``BEGIN IMMEDIATE``
transaction, so it takes the write lock up front instead of failing half-way when a
second process writes too. Within a process an asyncio lock keeps one writer at a time.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from roadmap_bot.store import Mark, Status
from roadmap_bot.store.migrations import LATEST, MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 15_000


class StoreError(Exception):
    """The database cannot be opened or is newer than this program."""


class MarksCache:
    """People's marks, kept in memory between writes.

    Nearly every command reads the asker's marks, and a trip to aiosqlite's thread costs
    more than the rest of the command. SQLite's ``data_version`` changes whenever any
    connection (another process included) commits, so the cache is dropped exactly when
    the data may have changed. Checking it is a read of shared memory, cheap enough to
    do on the event loop.
    """

    MAX_USERS = 10_000

    def __init__(self, path: str) -> None:
        self._data: dict[str, dict[str, Mark]] = {}
        self.follows: dict[str, dict[str, datetime]] = {}  # same freshness rule as marks
        self._version: int | None = None
        self.generation = 0  # bumped by every clear: a fetch that straddles one is dropped
        self._probe: sqlite3.Connection | None = None
        if path != ":memory:":  # a memory database is private to its connection
            self._probe = sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    def _fresh(self) -> bool:
        if self._probe is None:
            return False
        version = self._probe.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self.clear()
            self._version = version
        return True

    def get_many(self, users: list[str]) -> dict[str, dict[str, Mark]]:
        if not self._fresh():
            return {}
        return {u: self._data[u] for u in users if u in self._data}

    def put_many(self, marks: dict[str, dict[str, Mark]], generation: int) -> None:
        if self._probe is None or generation != self.generation:
            return
        if len(self._data) + len(marks) > self.MAX_USERS:
            self._data.clear()
        self._data.update(marks)

    def get_follows(self, user: str) -> dict[str, datetime] | None:
        return self.follows.get(user) if self._fresh() else None

    def put_follows(self, user: str, follows: dict[str, datetime], generation: int) -> None:
        if self._probe is None or generation != self.generation:
            return
        if len(self.follows) >= self.MAX_USERS:
            self.follows.clear()
        self.follows[user] = follows

    def clear(self) -> None:
        self._data.clear()
        self.follows.clear()
        self.generation += 1

    def data_version(self) -> int | None:
        """SQLite's data_version as the probe sees it: it changes with every commit by any
        other connection (our own writer included); None for a memory database."""
        if self._probe is None:
            return None
        return int(self._probe.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()


def to_text(at: datetime) -> str:
    """Timestamps are stored as ISO-8601 UTC text: sortable and readable."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    """Switch to WAL. On a brand-new file two processes may race here, and SQLite answers
    'locked' at once instead of waiting on the busy timeout: retry briefly."""
    for attempt in range(50):
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            await asyncio.sleep(0.05 + 0.01 * attempt)


class SqliteStore:
    """The :class:`roadmap_bot.store.Store` on a SQLite file."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        self._write_lock = asyncio.Lock()
        self._names: dict[str, str] = {}
        self._marks = MarksCache(path)

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStore:
        """Open (creating if needed) and migrate the database at ``path``."""
        where = str(path)
        if where != ":memory:":
            parent = Path(where).expanduser().resolve().parent
            if not parent.is_dir():
                raise StoreError(f"cannot open database {where}: folder {parent} does not exist")
        try:
            conn = await aiosqlite.connect(where, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {where}: {exc}") from exc
        store = cls(conn, where)
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if where != ":memory:":
                await _enable_wal(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await store._migrate()
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"cannot use database {where}: {exc}") from exc
        except BaseException:
            await conn.close()
            raise
        return store

    def data_version(self) -> int | None:
        """Changes whenever anything was committed to the database (by any process), so a
        view computed at one version is still right while it stays the same."""
        return self._marks.data_version()

    async def close(self) -> None:
        self._marks.close()
        await self.conn.close()

    # -- transactions ----------------------------------------------------------------

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: BEGIN IMMEDIATE ... COMMIT, rolled back on error."""
        async with self._write_lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")
            finally:
                self._marks.clear()

    async def _version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        if await self._version() == LATEST:
            return
        async with self.write() as conn:
            version = await self._version()  # again, now that we hold the write lock
            if version > LATEST:
                raise StoreError(
                    f"database {self.path} has schema {version}, newer than this "
                    f"roadmap-bot ({LATEST}); upgrade roadmap-bot"
                )
            for number in range(version + 1, LATEST + 1):
                for statement in MIGRATIONS[number - 1]:
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {number}")
                log.info("database %s migrated to schema %d", self.path, number)

    # -- users -----------------------------------------------------------------------

    async def remember_user(self, user: str, name: str, at: datetime) -> None:
        if self._names.get(user) == name:
            return  # most commands come from people we already know: skip the write
        async with self.write() as conn:
            await conn.execute(
                "INSERT INTO users (id, name, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, seen_at = excluded.seen_at",
                (user, name, to_text(at)),
            )
        self._names[user] = name

    async def user_name(self, user: str) -> str | None:
        return (await self.user_names([user])).get(user)

    async def user_names(self, users: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(users))
        found = {u: self._names[u] for u in wanted if u in self._names}
        missing = [u for u in wanted if u not in found]
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            rows = await self.conn.execute_fetchall(
                f"SELECT id, name FROM users WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            for user, name in rows:
                found[user] = name
        return found

    # -- progress --------------------------------------------------------------------

    async def set_mark(self, user: str, project: str, status: Status, at: datetime) -> Mark | None:
        async with self.write() as conn:
            previous = await self._mark(conn, user, project)
            await conn.execute(
                "INSERT INTO progress (user_id, project, status, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, project) DO UPDATE SET status = excluded.status, "
                # the same mark again keeps its date: 'done' twice must not rewrite history
                "updated_at = CASE WHEN progress.status = excluded.status "
                "THEN progress.updated_at ELSE excluded.updated_at END",
                (user, project, status.value, to_text(at)),
            )
            if previous is None or previous.status is not status:
                await conn.execute(
                    "INSERT INTO mark_events (user_id, project, status, at) VALUES (?, ?, ?, ?)",
                    (user, project, status.value, to_text(at)),
                )
        return previous

    async def clear_mark(self, user: str, project: str, at: datetime | None = None) -> Mark | None:
        async with self.write() as conn:
            previous = await self._mark(conn, user, project)
            if previous is not None:
                await conn.execute(
                    "DELETE FROM progress WHERE user_id = ? AND project = ?", (user, project)
                )
                await conn.execute(
                    "INSERT INTO mark_events (user_id, project, status, at) "
                    "VALUES (?, ?, 'cleared', ?)",
                    (user, project, to_text(at or datetime.now(UTC))),
                )
        return previous

    async def progress(self, user: str) -> dict[str, Mark]:
        return (await self.progress_of([user]))[user]

    async def progress_of(self, users: Iterable[str]) -> dict[str, dict[str, Mark]]:
        wanted = list(dict.fromkeys(users))
        cached = self._marks.get_many(wanted)
        missing = [u for u in wanted if u not in cached]
        if missing:
            generation = self._marks.generation
            fetched = await self._fetch_marks(missing)
            self._marks.put_many(fetched, generation)
            cached.update(fetched)
        # copies: callers may not change what the cache holds
        return {u: dict(cached[u]) for u in wanted}

    async def _fetch_marks(self, wanted: list[str]) -> dict[str, dict[str, Mark]]:
        result: dict[str, dict[str, Mark]] = {u: {} for u in wanted}
        for start in range(0, len(wanted), 500):  # well under SQLite's variable limit
            chunk = wanted[start : start + 500]
            # execute_fetchall: one trip to the database thread instead of three
            rows = await self.conn.execute_fetchall(
                "SELECT user_id, project, status, updated_at FROM progress "
                f"WHERE user_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for user, project, status, updated in rows:
                result[user][project] = Mark(Status(status), from_text(updated))
        return result

    @staticmethod
    async def _mark(conn: aiosqlite.Connection, user: str, project: str) -> Mark | None:
        async with conn.execute(
            "SELECT status, updated_at FROM progress WHERE user_id = ? AND project = ?",
            (user, project),
        ) as cur:
            row = await cur.fetchone()
        return Mark(Status(row[0]), from_text(row[1])) if row else None

    # -- followed paths --------------------------------------------------------------

    async def follows(self, user: str) -> dict[str, datetime]:
        cached = self._marks.get_follows(user)
        if cached is None:
            generation = self._marks.generation
            rows = await self.conn.execute_fetchall(
                "SELECT path, followed_at FROM follows WHERE user_id = ? "
                "ORDER BY followed_at DESC, path",
                (user,),
            )
            cached = {path: from_text(at) for path, at in rows}
            self._marks.put_follows(user, cached, generation)
        return dict(cached)

    async def follow(self, user: str, path: str, at: datetime) -> bool:
        async with self.write() as conn:
            cursor = await conn.execute(
                "INSERT INTO follows (user_id, path, followed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, path) DO NOTHING",
                (user, path, to_text(at)),
            )
            return cursor.rowcount > 0

    async def unfollow(self, user: str, path: str) -> bool:
        async with self.write() as conn:
            cursor = await conn.execute(
                "DELETE FROM follows WHERE user_id = ? AND path = ?", (user, path)
            )
            return cursor.rowcount > 0

    # -- meta ------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async with self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async with self.write() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
