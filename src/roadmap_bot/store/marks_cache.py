"""People's marks and followed paths, kept in memory between changes, on both engines.

Nearly every command reads the asker's marks, and a trip to the database costs more than
the rest of the command. The cache must never keep serving a mark after another process
(or replica) changed it, so each engine tells it who changed:

- SQLite: ``PRAGMA data_version`` (a read of shared memory, cheap enough for the event loop)
  changes whenever any connection commits; when it has, the ``mark_versions`` rows numbered
  above the last one seen name the people changed, and only they are dropped.
- PostgreSQL: every write of marks or follows sends ``NOTIFY roadmap_marks, '<writer>
  <user>'`` in its transaction, and a connection of our own LISTENs and drops the user
  named. Before serving, a read waits until everything committed before it began has
  been heard (see :class:`PostgresMarksCache`), so a change made on another replica is
  seen by the next read here. The cache serves only while that connection is up: when it
  is lost everything is dropped and reads go to the server until it listens again.

Writes by this process update its own entry in place (what the write returned), so a
person who marks a report and then asks for the next one is still served from memory.
A read that fetched from the database while a change was made to the same person is not
kept: each entry remembers when its fetch began (a ticket), each change when it happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from roadmap_bot.retry import backoff
from roadmap_bot.store import Mark
from roadmap_bot.store import schema as t

log = logging.getLogger(__name__)

CHANNEL = "roadmap_marks"  # the PostgreSQL notification channel
LISTENER_NAME = "roadmap-bot marks cache"  # the listening connection, in pg_stat_activity
PING_SECONDS = 10.0  # a listening connection silently cut off is found within this time
RETRY_SECONDS = (0.5, 30.0)  # first and longest wait before listening again
_jitter = random.Random()  # replicas that lost the server together do not return in step


@dataclass
class Change:
    """What one write did: the writing person's marks set or cleared (None), their follows
    changed; and other people changed wholesale (ids renamed), whose entries are dropped."""

    marks: dict[str, Mark | None] = field(default_factory=dict)
    follows: bool = False
    people: set[str] = field(default_factory=set)

    def changed(self, user: str | None) -> list[str]:
        """Everyone the write changed, for the other processes to hear of."""
        mine = [user] if user is not None and (self.marks or self.follows) else []
        return mine + sorted(self.people - set(mine))


class MarksCache:
    """The cache itself, with no way to hear of other processes: it never serves (a private
    memory database). The engines' subclasses below turn it on."""

    MAX_USERS = 10_000

    def __init__(self) -> None:
        self.marks: dict[str, dict[str, Mark]] = {}
        self.follows: dict[str, dict[str, datetime]] = {}
        self.live = False  # False: nothing is served or kept, every read goes to the database
        self.hits = 0  # people whose marks were served from memory
        self.misses = 0  # people whose marks were fetched
        self._clock = 0  # counts changes; a ticket is its value when a fetch or write began
        self._changed: dict[str, int] = {}  # user -> the clock at the latest change to them
        self._floor = 0  # tickets below it are refused: everything was dropped since

    # -- reading -----------------------------------------------------------------------

    def ticket(self) -> int:
        """Taken before fetching from the database: :meth:`put_many` refuses the result if
        a change was made to that person since."""
        return self._clock

    def check(self) -> bool:
        """Learn of other processes' changes; True when the cache may serve."""
        return False

    async def catch_up(self) -> None:
        """Before a read: hear of every change committed before now (SQLite's check does
        that by itself, synchronously)."""

    def get_many(self, users: list[str]) -> dict[str, dict[str, Mark]]:
        found = {u: self.marks[u] for u in users if u in self.marks} if self.check() else {}
        self.hits += len(found)
        self.misses += len(users) - len(found)
        return found

    def put_many(self, marks: dict[str, dict[str, Mark]], ticket: int) -> None:
        if not self.live:
            return
        kept = {u: m for u, m in marks.items() if self._unchanged_since(u, ticket)}
        if len(self.marks) + len(kept) > self.MAX_USERS:
            self.marks.clear()
        self.marks.update(kept)

    def get_follows(self, user: str) -> dict[str, datetime] | None:
        return self.follows.get(user) if self.check() else None

    def put_follows(self, user: str, follows: dict[str, datetime], ticket: int) -> None:
        if not self.live or not self._unchanged_since(user, ticket):
            return
        if len(self.follows) >= self.MAX_USERS:
            self.follows.clear()
        self.follows[user] = follows

    def _unchanged_since(self, user: str, ticket: int) -> bool:
        return ticket >= self._floor and self._changed.get(user, -1) <= ticket

    # -- changes -----------------------------------------------------------------------

    def _mark_changed(self, user: str) -> None:
        """A fetch of ``user`` under way read rows that may be old now: refuse its result."""
        self._clock += 1
        if len(self._changed) >= self.MAX_USERS:
            self._changed.clear()  # forget who, refuse every fetch under way instead
            self._floor = self._clock
        self._changed[user] = self._clock

    def forget(self, user: str) -> None:
        """Someone changed ``user``'s marks or follows: read them from the database again."""
        self._mark_changed(user)
        self.marks.pop(user, None)
        self.follows.pop(user, None)

    def clear(self) -> None:
        """Drop everyone, and refuse every fetch under way."""
        self.marks.clear()
        self.follows.clear()
        self._changed.clear()
        self._clock += 1
        self._floor = self._clock

    async def begin_write(self, conn: AsyncConnection) -> int:
        """Called inside a write of marks or follows, before it changes anything; returns
        the write's ticket."""
        return self.ticket()

    async def record(self, conn: AsyncConnection, users: list[str]) -> list[int]:
        """Called inside the write, after its changes: tell the other processes who changed.
        Returns each change's number where the engine numbers them."""
        return []

    def wrote(self, user: str | None, ticket: int, numbers: list[int], change: Change) -> None:
        """Our own write committed: bring the writer's entry up to date in place when
        nothing else changed them since the write began, otherwise drop it; drop the
        people it changed wholesale."""
        for person in change.people:
            self.forget(person)
        if user is None or not (change.marks or change.follows):
            return
        if not self._unchanged_since(user, ticket):
            self.forget(user)
            return
        self._mark_changed(user)
        current = self.marks.get(user)
        if current is not None:
            for project, mark in change.marks.items():
                if mark is None:
                    current.pop(project, None)
                else:
                    current[project] = mark
        if change.follows:
            self.follows.pop(user, None)  # kept in the database's order: read them again

    async def start(self) -> None:
        """Begin hearing of other processes' changes."""

    async def close(self) -> None:
        self.live = False
        self.clear()

    def data_version(self) -> int | None:
        """Changes whenever anything was committed to the database by anyone; None where
        the engine has no such counter."""
        return None


class SqliteMarksCache(MarksCache):
    """On a SQLite file: data_version says *whether* anyone committed, mark_versions *who*."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._probe = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._version = self.data_version()
        self._seen = int(
            self._probe.execute("SELECT coalesce(max(version), 0) FROM mark_versions").fetchone()[0]
        )
        self.live = True

    def data_version(self) -> int | None:
        return int(self._probe.execute("PRAGMA data_version").fetchone()[0])

    def check(self) -> bool:
        version = self.data_version()
        if version != self._version:
            # read before the feed: a commit after this read changes it again, and the
            # next check reads the feed again (a commit between the two is read twice)
            self._version = version
            changed = self._probe.execute(
                "SELECT user_id, version FROM mark_versions WHERE version > ?", (self._seen,)
            ).fetchall()
            for user, number in changed:
                self.forget(user)
                self._seen = max(self._seen, number)
        return True

    async def begin_write(self, conn: AsyncConnection) -> int:
        # the write holds SQLite's write lock: catch up on everything committed before it,
        # so that this write's number is the next one after the last seen
        self.check()
        return self.ticket()

    async def record(self, conn: AsyncConnection, users: list[str]) -> list[int]:
        v = t.mark_versions
        numbers = []
        for user in users:
            new = sqlite.insert(v).values(
                user_id=user,
                version=select(func.coalesce(func.max(v.c.version), 0) + 1).scalar_subquery(),
            )
            bump = new.on_conflict_do_update(
                index_elements=[v.c.user_id], set_={"version": new.excluded.version}
            ).returning(v.c.version)
            numbers.append(int((await conn.execute(bump)).scalar_one()))
        return numbers

    def wrote(self, user: str | None, ticket: int, numbers: list[int], change: Change) -> None:
        if not numbers:
            return
        if numbers == list(range(self._seen + 1, self._seen + 1 + len(numbers))):
            self._seen = numbers[-1]  # our own changes: the feed need not drop what we updated
            super().wrote(user, ticket, numbers, change)
        else:  # not expected (the write lock orders writes), but then: read them again
            for person in change.changed(user):
                self.forget(person)

    async def close(self) -> None:
        await super().close()
        self._probe.close()


class PostgresMarksCache(MarksCache):
    """On PostgreSQL: LISTEN on a connection of our own; serve only while it is up.

    A notification arrives a moment after its commit, so before serving from memory a
    read waits until this cache has heard everything committed before the read began:
    it sends a notification of its own on the listening connection and waits to hear it
    back (PostgreSQL delivers notifications in commit order). Concurrent reads share one
    such round trip, far cheaper than fetching the marks through the pool."""

    def __init__(self, url: URL) -> None:
        super().__init__()
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._name = url.set(drivername="postgresql").render_as_string(hide_password=True)
        self._writer = secrets.token_hex(8)  # our own notifications are not news to us
        self._conn: Any = None  # the asyncpg connection while listening
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._next_sync: asyncio.Future[bool] | None = None  # for reads not yet covered
        self._syncing: asyncio.Task[None] | None = None
        self._syncs = 0
        self._heard_sync: dict[int, asyncio.Future[None]] = {}

    def check(self) -> bool:
        conn = self._conn
        if self.live and (conn is None or conn.is_closed()):
            self._lost()  # found here before the connection's own callback ran
        return self.live

    def _lost(self) -> None:
        self.live = False
        self._conn = None
        self.clear()
        for heard in self._heard_sync.values():
            if not heard.done():
                heard.cancel()

    async def catch_up(self) -> None:
        if not self.check():
            return
        await self._sync()
        self.check()

    async def _sync(self) -> bool:
        """Until every notification committed before this call has been heard; False if
        the listening connection failed meanwhile (the cache is then off)."""
        waiter = self._next_sync
        if waiter is None:
            # a round trip already under way may have begun before this read: wait for
            # the next one, which every read arriving meanwhile shares
            waiter = self._next_sync = asyncio.get_running_loop().create_future()
            if self._syncing is None or self._syncing.done():
                self._syncing = asyncio.create_task(self._run_syncs(), name="marks-cache-sync")
        return await asyncio.shield(waiter)

    async def _run_syncs(self) -> None:
        while self._next_sync is not None:
            waiter, self._next_sync = self._next_sync, None
            done = await self._sync_once()
            if not waiter.done():
                waiter.set_result(done)

    async def _sync_once(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        self._syncs += 1
        number = self._syncs
        heard = self._heard_sync[number] = asyncio.get_running_loop().create_future()
        try:
            payload = f"{self._writer}/sync {number}"
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that meets a finished wait, and this must stop when closed
            async with asyncio.timeout(PING_SECONDS):
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
                await heard
            return True
        except Exception as exc:  # whatever failed, the cache cannot trust the connection
            if conn is self._conn:
                log.warning("marks cache: the listening connection failed (%s)", type(exc).__name__)
                self._lost()
                conn.terminate()
            return False
        finally:
            self._heard_sync.pop(number, None)

    async def record(self, conn: AsyncConnection, users: list[str]) -> list[int]:
        for user in users:
            await conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": f"{self._writer} {user}"},
            )
        return []

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        writer, _, rest = str(payload).partition(" ")
        if writer == f"{self._writer}/sync":
            heard = self._heard_sync.get(int(rest))
            if heard is not None and not heard.done():
                heard.set_result(None)
        elif writer != self._writer and not writer.endswith("/sync"):  # others' syncs
            self.forget(rest)

    async def start(self) -> None:
        """Listen in the background; wait (briefly) for the first LISTEN so that a new
        store caches at once. If the server cannot be reached, reads go to it uncached
        until it can."""
        self._task = asyncio.create_task(self._listen_forever(), name="marks-cache-listen")
        try:
            async with asyncio.timeout(10):
                await self._listening.wait()
        except TimeoutError:
            log.warning("marks cache: not listening on %s yet; reading marks uncached", self._name)

    async def _listen_forever(self) -> None:
        import asyncpg  # type: ignore[import-untyped]  # only PostgreSQL processes import it

        failures = 0
        while True:
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=10, server_settings={"application_name": LISTENER_NAME}
                )
            except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
                log.warning("marks cache: cannot listen on %s (%s); retrying", self._name, exc)
            else:
                try:
                    await self._serve_while_listening(conn)
                    failures = 0
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    pass
                finally:
                    self._lost()
                    conn.terminate()
                log.warning("marks cache: lost the connection listening on %s", self._name)
            await asyncio.sleep(backoff(failures, *RETRY_SECONDS, rng=_jitter))
            failures += 1

    async def _serve_while_listening(self, conn: Any) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(CHANNEL, self._heard)
        # anything cached or fetched before LISTEN took effect may have missed a notification
        self.clear()
        self._conn = conn
        self.live = True
        self._listening.set()
        while not lost.is_set() and self._conn is conn:
            try:
                async with asyncio.timeout(PING_SECONDS):
                    await lost.wait()
            except TimeoutError:
                if not await self._sync():  # a connection silently cut off is found here
                    return

    async def close(self) -> None:
        for task in (self._task, self._syncing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await super().close()
