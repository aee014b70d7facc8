"""The :class:`roadmap_bot.store.Store` on SQLAlchemy: people, their marks, settings.

The same code runs on SQLite and PostgreSQL (see ``database.py`` for what differs). The
study-group ledger (``digests.py``) and the report cache (``reports.py``) use the same
database through this object.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.schema import Table

from roadmap_bot.store import Mark, Status
from roadmap_bot.store import schema as t
from roadmap_bot.store.database import SQLITE, Database
from roadmap_bot.store.identity import Installation, Renamed, plan, rename
from roadmap_bot.store.marks_cache import (
    Change,
    MarksCache,
    PostgresMarksCache,
    SqliteMarksCache,
)
from roadmap_bot.store.migrate import upgrade

CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit

_T = TypeVar("_T")


def chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``items`` CHUNK at a time, for IN (...) lists."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def insert(dialect: str, table: Table) -> Any:
    """INSERT with ON CONFLICT for the engine at hand (both dialects spell it alike)."""
    if dialect == SQLITE:
        return sqlite.insert(table)
    from sqlalchemy.dialects import postgresql  # loaded already: a PostgreSQL engine is open

    return postgresql.insert(table)


class SqlStore:
    """The store on one database: SQLite file or PostgreSQL server."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.dialect = db.dialect
        self._names: dict[str, str] = {}
        self._marks = _marks_cache(db)

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
        store = cls(db)
        await store._marks.start()
        return store

    def data_version(self) -> int | None:
        """Changes whenever anything was committed to the database (by any process), so a
        view computed at one version is still right while it stays the same."""
        return self._marks.data_version()

    async def close(self) -> None:
        await self._marks.close()
        await self.db.close()

    def marks_cache_counts(self) -> tuple[int, int]:
        """People whose marks were served from memory, and fetched, since the store opened."""
        return self._marks.hits, self._marks.misses

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
        """One write transaction (see :meth:`Database.write`). Marks and follows are not
        written here but by the methods below, which keep the marks cache true."""
        async with self.db.write() as conn:
            yield conn

    @asynccontextmanager
    async def _marks_write(
        self, user: str | None = None
    ) -> AsyncIterator[tuple[AsyncConnection, Change]]:
        """One write transaction changing ``user``'s marks or follows: the body says what it
        changed; the other processes are told in the same transaction, and this process's
        cache learns of it as soon as it is committed."""
        change = Change()
        ticket = 0
        numbers: list[int] = []

        def committed() -> None:
            self._marks.wrote(user, ticket, numbers, change)

        try:
            async with self.db.write(after_commit=committed) as conn:
                ticket = await self._marks.begin_write(conn)
                yield conn, change
                if changed := change.changed(user):
                    numbers = await self._marks.record(conn, changed)
        except BaseException:
            for person in {user, *change.people} - {None}:  # committed or not? read again
                self._marks.forget(str(person))
            raise

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
            for chunk in chunks(missing):
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
        stmt = stmt.returning(p.c.status, p.c.updated_at)
        async with self._marks_write(user) as (conn, change):
            previous = await self._mark(conn, user, project)
            now = (await conn.execute(stmt)).one()
            if previous is None or previous.status is not status:
                await conn.execute(
                    t.mark_events.insert().values(
                        user_id=user, project=project, status=status.value, at=at
                    )
                )
            # Told as a change even when ``previous`` says it is the same mark: on
            # PostgreSQL another process may have cleared it after that read, and then
            # this statement made the row again (seen as a stale cache on the other side).
            change.marks[project] = Mark(Status(now[0]), now[1])
        return previous

    async def clear_mark(self, user: str, project: str, at: datetime | None = None) -> Mark | None:
        p = t.progress
        async with self._marks_write(user) as (conn, change):
            previous = await self._mark(conn, user, project)
            if previous is not None:
                await conn.execute(delete(p).where(p.c.user_id == user, p.c.project == project))
                await conn.execute(
                    t.mark_events.insert().values(
                        user_id=user, project=project, status="cleared", at=at or datetime.now(UTC)
                    )
                )
                change.marks[project] = None
        return previous

    async def progress(self, user: str) -> dict[str, Mark]:
        return (await self.progress_of([user]))[user]

    async def progress_of(self, users: Iterable[str]) -> dict[str, dict[str, Mark]]:
        wanted = list(dict.fromkeys(users))
        await self._marks.catch_up()
        cached = self._marks.get_many(wanted)
        missing = [u for u in wanted if u not in cached]
        if missing:
            ticket = self._marks.ticket()
            fetched = await self._fetch_marks(missing)
            self._marks.put_many(fetched, ticket)
            cached.update(fetched)
        # copies: callers may not change what the cache holds
        return {u: dict(cached[u]) for u in wanted}

    async def _fetch_marks(self, wanted: list[str]) -> dict[str, dict[str, Mark]]:
        p = t.progress
        result: dict[str, dict[str, Mark]] = {u: {} for u in wanted}
        async with self.db.read() as conn:
            for chunk in chunks(wanted):
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
        await self._marks.catch_up()
        cached = self._marks.get_follows(user)
        if cached is None:
            ticket = self._marks.ticket()
            f = t.follows
            async with self.db.read() as conn:
                rows = await conn.execute(
                    select(f.c.path, f.c.followed_at)
                    .where(f.c.user_id == user)
                    .order_by(f.c.followed_at.desc(), f.c.path)
                )
                cached = {path: at for path, at in rows}
            self._marks.put_follows(user, cached, ticket)
        return dict(cached)

    async def follow(self, user: str, path: str, at: datetime) -> bool:
        stmt = (
            insert(self.dialect, t.follows)
            .values(user_id=user, path=path, followed_at=at)
            .on_conflict_do_nothing()
        )
        async with self._marks_write(user) as (conn, change):
            change.follows = (await conn.execute(stmt)).rowcount > 0
        return change.follows

    async def unfollow(self, user: str, path: str) -> bool:
        f = t.follows
        async with self._marks_write(user) as (conn, change):
            done = await conn.execute(delete(f).where(f.c.user_id == user, f.c.path == path))
            change.follows = done.rowcount > 0
        return change.follows

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
        async with self._marks_write() as (conn, change):
            # planned again inside the write transaction: another process may have moved them
            people, channels = await conn.run_sync(plan, [installation])
            # marks and follows move from each old id to its new one: no cache keeps either
            change.people = {p for pair in people.items() for p in pair if pair[0] != pair[1]}
            return await conn.run_sync(
                lambda sync: rename(sync, people=people, channels=channels, now=now)
            )


def _marks_cache(db: Database) -> MarksCache:
    if db.dialect != SQLITE:
        return PostgresMarksCache(db.url)
    if db.path == ":memory:":  # a memory database is one connection's: no one to ask
        return MarksCache()
    return SqliteMarksCache(db.path or "")
