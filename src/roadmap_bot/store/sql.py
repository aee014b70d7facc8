"""The :class:`roadmap_bot.store.Store` on SQLAlchemy: people, their marks, settings.

The same code runs on SQLite and PostgreSQL (see ``database.py`` for what differs). The
study-group ledger (``digests.py``) and the report cache (``reports.py``) use the same
database through this object.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.schema import Table

from roadmap_bot.store import Mark, Status
from roadmap_bot.store import schema as t
from roadmap_bot.store.database import SQLITE, Database
from roadmap_bot.store.identity import Installation, Renamed, plan, rename
from roadmap_bot.store.migrate import upgrade

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


def insert(dialect: str, table: Table) -> Any:
    """INSERT with ON CONFLICT for the engine at hand (both dialects spell it alike)."""
    return (postgresql.insert if dialect != SQLITE else sqlite.insert)(table)


class MarksCache:
    """People's marks, kept in memory between writes, on SQLite only.

    Nearly every command reads the asker's marks, and a trip to aiosqlite's thread costs
    more than the rest of the command. SQLite's ``data_version`` changes whenever any
    connection (another process included) commits, so the cache is dropped exactly when
    the data may have changed; checking it is a read of shared memory, cheap enough to do
    on the event loop. PostgreSQL has no such counter, and replicas write beside each
    other: there every read goes to the server (bench/bench_core.py measures the cost).
    """

    MAX_USERS = 10_000

    def __init__(self, path: str | None) -> None:
        self._data: dict[str, dict[str, Mark]] = {}
        self.follows: dict[str, dict[str, datetime]] = {}  # same freshness rule as marks
        self._version: int | None = None
        self.generation = 0  # bumped by every clear: a fetch that straddles one is dropped
        self._probe: sqlite3.Connection | None = None
        if path is not None and path != ":memory:":  # a memory database is one connection's
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


class SqlStore:
    """The store on one database: SQLite file or PostgreSQL server."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect
        self._names: dict[str, str] = {}
        self._marks = MarksCache(db.path)

    @classmethod
    async def open(cls, where: str | Path) -> SqlStore:
        """Open the database at ``where`` (a SQLite path or a database URL) and bring its
        schema up to date; ``StoreError`` if it cannot be used or is newer than us."""
        db = await Database.open(where)
        try:
            await upgrade(db)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    def data_version(self) -> int | None:
        """Changes whenever anything was committed to the database (by any process), so a
        view computed at one version is still right while it stays the same."""
        return self._marks.data_version()

    async def close(self) -> None:
        self._marks.close()
        await self.db.close()

    @property
    def path(self) -> str | None:
        """The SQLite file (':memory:' for a memory database); None on PostgreSQL."""
        return self.db.path

    @property
    def name(self) -> str:
        """The database for messages: a path, or a URL without its password."""
        return self.db.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (see :meth:`Database.write`); cached marks are dropped."""
        try:
            async with self.db.write() as conn:
                yield conn
        finally:
            self._marks.clear()

    # -- users -----------------------------------------------------------------------

    async def remember_user(self, user: str, name: str, at: datetime) -> None:
        if self._names.get(user) == name:
            return  # most commands come from people we already know: skip the write
        stmt = insert(self.dialect, t.users).values(id=user, name=name, seen_at=at)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.users.c.id],
            set_={"name": stmt.excluded.name, "seen_at": stmt.excluded.seen_at},
        )
        async with self.write() as conn:
            await conn.execute(stmt)
        self._names[user] = name

    async def user_name(self, user: str) -> str | None:
        return (await self.user_names([user])).get(user)

    async def user_names(self, users: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(users))
        found = {u: self._names[u] for u in wanted if u in self._names}
        missing = [u for u in wanted if u not in found]
        if not missing:
            return found
        async with self.db.read() as conn:
            for start in range(0, len(missing), _CHUNK):
                chunk = missing[start : start + _CHUNK]
                rows = await conn.execute(
                    select(t.users.c.id, t.users.c.name).where(t.users.c.id.in_(chunk))
                )
                for user, name in rows:
                    found[user] = name
        return found

    # -- progress --------------------------------------------------------------------

    async def set_mark(self, user: str, project: str, status: Status, at: datetime) -> Mark | None:
        p = t.progress
        stmt = insert(self.dialect, p).values(
            user_id=user, project=project, status=status.value, updated_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[p.c.user_id, p.c.project],
            set_={
                "status": stmt.excluded.status,
                # the same mark again keeps its date: 'done' twice must not rewrite history
                "updated_at": case(
                    (p.c.status == stmt.excluded.status, p.c.updated_at),
                    else_=stmt.excluded.updated_at,
                ),
            },
        )
        async with self.write() as conn:
            previous = await self._mark(conn, user, project)
            await conn.execute(stmt)
            if previous is None or previous.status is not status:
                await conn.execute(
                    t.mark_events.insert().values(
                        user_id=user, project=project, status=status.value, at=at
                    )
                )
        return previous

    async def clear_mark(self, user: str, project: str, at: datetime | None = None) -> Mark | None:
        p = t.progress
        async with self.write() as conn:
            previous = await self._mark(conn, user, project)
            if previous is not None:
                await conn.execute(delete(p).where(p.c.user_id == user, p.c.project == project))
                await conn.execute(
                    t.mark_events.insert().values(
                        user_id=user, project=project, status="cleared", at=at or datetime.now(UTC)
                    )
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
        p = t.progress
        result: dict[str, dict[str, Mark]] = {u: {} for u in wanted}
        async with self.db.read() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                rows = await conn.execute(
                    select(p.c.user_id, p.c.project, p.c.status, p.c.updated_at).where(
                        p.c.user_id.in_(chunk)
                    )
                )
                for user, project, status, updated in rows:
                    result[user][project] = Mark(Status(status), updated)
        return result

    @staticmethod
    async def _mark(conn: AsyncConnection, user: str, project: str) -> Mark | None:
        p = t.progress
        row = (
            await conn.execute(
                select(p.c.status, p.c.updated_at).where(
                    p.c.user_id == user, p.c.project == project
                )
            )
        ).first()
        return Mark(Status(row[0]), row[1]) if row else None

    # -- followed paths --------------------------------------------------------------

    async def follows(self, user: str) -> dict[str, datetime]:
        cached = self._marks.get_follows(user)
        if cached is None:
            generation = self._marks.generation
            f = t.follows
            async with self.db.read() as conn:
                rows = await conn.execute(
                    select(f.c.path, f.c.followed_at)
                    .where(f.c.user_id == user)
                    .order_by(f.c.followed_at.desc(), f.c.path)
                )
                cached = {path: at for path, at in rows}
            self._marks.put_follows(user, cached, generation)
        return dict(cached)

    async def follow(self, user: str, path: str, at: datetime) -> bool:
        stmt = (
            insert(self.dialect, t.follows)
            .values(user_id=user, path=path, followed_at=at)
            .on_conflict_do_nothing()
        )
        async with self.write() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def unfollow(self, user: str, path: str) -> bool:
        f = t.follows
        async with self.write() as conn:
            done = await conn.execute(delete(f).where(f.c.user_id == user, f.c.path == path))
            return done.rowcount > 0

    # -- meta ------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async with self.db.read() as conn:
            value = await conn.scalar(select(t.meta.c.value).where(t.meta.c.key == key))
        return str(value) if value is not None else None

    async def set_meta(self, key: str, value: str) -> None:
        stmt = insert(self.dialect, t.meta).values(key=key, value=value)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.meta.c.key], set_={"value": stmt.excluded.value}
        )
        async with self.write() as conn:
            await conn.execute(stmt)

    # -- identity ----------------------------------------------------------------------

    async def adopt_slack_installation(self, installation: Installation, now: datetime) -> Renamed:
        """A bot with one Slack token learns its installation from ``auth.test``: rows kept
        under older Slack ids move to the ids that installation gives them (the rules of
        revision 0005, see ``store/identity.py``). Nothing to move: nothing is written."""
        async with self.db.read() as conn:
            people, channels = await conn.run_sync(plan, [installation])
        if not people and not channels:
            return Renamed()
        async with self.write() as conn:
            # planned again inside the write transaction: another process may have moved them
            people, channels = await conn.run_sync(plan, [installation])
            return await conn.run_sync(
                lambda sync: rename(sync, people=people, channels=channels, now=now)
            )
