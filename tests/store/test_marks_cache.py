"""The marks cache on both engines: another process's change is seen by the next read,
only its person is read again, our own writes keep being served from memory, and a lost
PostgreSQL notification connection never leaves an old mark in place."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from roadmap_bot.store import Mark, Status
from roadmap_bot.store.identity import Installation
from roadmap_bot.store.marks_cache import LISTENER_NAME, MarksCache
from roadmap_bot.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def two(database: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one database, as two replicas would have."""
    first, second = await SqlStore.open(database), await SqlStore.open(database)
    yield first, second
    await first.close()
    await second.close()


async def seen(condition: Callable[[], Awaitable[bool]], store: SqlStore) -> None:
    """The other store's change is seen by this one's next read, on either engine."""
    assert await condition()


async def served_from_memory(store: SqlStore, user: str) -> dict[str, Mark]:
    """The user's marks, asserting they came from the cache, not the database."""
    hits, _ = store.marks_cache_counts()
    marks = await store.progress(user)
    assert store.marks_cache_counts()[0] == hits + 1, f"{user}'s marks were fetched"
    return marks


async def test_a_mark_written_by_another_store_is_read_and_others_stay_cached(
    two: tuple[SqlStore, SqlStore],
) -> None:
    reader, writer = two
    await writer.set_mark("console:alice", "fzf", Status.DONE, T0)
    await writer.set_mark("console:bob", "redis", Status.READING, T0)
    assert set(await reader.progress("console:alice")) == {"fzf"}  # now cached
    assert set(await reader.progress("console:bob")) == {"redis"}

    await writer.set_mark("console:alice", "kafka", Status.DONE, T0 + timedelta(hours=1))

    async def alice_has_kafka() -> bool:
        return set(await reader.progress("console:alice")) == {"fzf", "kafka"}

    await seen(alice_has_kafka, reader)
    assert set(await served_from_memory(reader, "console:bob")) == {"redis"}  # bob untouched

    await writer.clear_mark("console:alice", "fzf", T0 + timedelta(hours=2))

    async def alice_lost_fzf() -> bool:
        return set(await reader.progress("console:alice")) == {"kafka"}

    await seen(alice_lost_fzf, reader)
    assert set(await served_from_memory(reader, "console:bob")) == {"redis"}


async def test_followed_paths_written_by_another_store_are_read(
    two: tuple[SqlStore, SqlStore],
) -> None:
    reader, writer = two
    assert await reader.follows("console:alice") == {}  # now cached
    await writer.follow("console:alice", "web-development", T0)

    async def follows_it() -> bool:
        return list(await reader.follows("console:alice")) == ["web-development"]

    await seen(follows_it, reader)
    await writer.unfollow("console:alice", "web-development")

    async def follows_nothing() -> bool:
        return await reader.follows("console:alice") == {}

    await seen(follows_nothing, reader)


async def test_our_own_marks_are_served_from_memory_after_we_write_them(
    two: tuple[SqlStore, SqlStore],
) -> None:
    store, other = two
    await store.set_mark("console:alice", "fzf", Status.READING, T0)
    await store.progress("console:alice")  # cached
    await store.set_mark("console:alice", "fzf", Status.DONE, T0 + timedelta(days=1))
    await store.set_mark("console:alice", "redis", Status.DONE, T0 + timedelta(days=2))
    await store.set_mark("console:alice", "redis", Status.DONE, T0 + timedelta(days=3))
    await store.clear_mark("console:alice", "kafka")  # nothing to clear
    mine = await served_from_memory(store, "console:alice")
    assert mine == {
        "fzf": Mark(Status.DONE, T0 + timedelta(days=1)),
        "redis": Mark(Status.DONE, T0 + timedelta(days=2)),  # the same mark keeps its date
    }
    assert mine == await other.progress("console:alice")  # what the database says
    await store.clear_mark("console:alice", "fzf")
    assert set(await served_from_memory(store, "console:alice")) == {"redis"}

    async def the_other_agrees() -> bool:  # it cached alice above: it hears of the change
        return set(await other.progress("console:alice")) == {"redis"}

    await seen(the_other_agrees, other)


async def test_many_writers_at_once_leave_every_cache_true(
    two: tuple[SqlStore, SqlStore], database: str
) -> None:
    first, second = two
    users = [f"console:u{i}" for i in range(6)]
    for store in two:
        await store.progress_of(users)  # everyone cached in both

    async def churn(store: SqlStore, offset: int) -> None:
        for round_ in range(8):
            for i, user in enumerate(users):
                project = ("fzf", "redis", "kafka")[(i + round_ + offset) % 3]
                if (i + round_) % 2:
                    await store.clear_mark(user, project)
                else:
                    await store.set_mark(user, project, Status.DONE, T0)
                await store.progress(user)

    await asyncio.gather(churn(first, 0), churn(second, 1))
    truth = await _uncached(database, users)

    async def both_agree() -> bool:
        return all([await s.progress_of(users) == truth for s in two])

    await seen(both_agree, first)


async def _uncached(database: str, users: list[str]) -> dict[str, dict[str, Mark]]:
    """What the database holds, read by a store that has cached nothing yet."""
    fresh = await SqlStore.open(database)
    try:
        return await fresh.progress_of(users)
    finally:
        await fresh.close()


async def test_people_renamed_to_their_grid_ids_are_read_again_everywhere(
    two: tuple[SqlStore, SqlStore],
) -> None:
    renamer, other = two
    await renamer.set_mark("slack:T1:U1", "fzf", Status.DONE, T0)
    for store in two:  # both cache the old id (with the mark) and the new one (empty)
        assert set(await store.progress("slack:T1:U1")) == {"fzf"}
        assert await store.progress("slack:E1:U1") == {}
    await renamer.adopt_slack_installation(Installation("T1", "E1"), T0)
    assert await renamer.progress("slack:T1:U1") == {}
    assert set(await renamer.progress("slack:E1:U1")) == {"fzf"}

    async def moved() -> bool:
        return await other.progress("slack:T1:U1") == {} and set(
            await other.progress("slack:E1:U1")
        ) == {"fzf"}

    await seen(moved, other)


def test_a_mark_written_by_another_process_is_read(database: str) -> None:
    """Two processes: the first caches alice and bob, the second marks alice, the first
    reads alice's new mark and still serves bob from memory."""
    reader = textwrap.dedent(
        """
        import asyncio, sys
        from datetime import UTC, datetime
        from roadmap_bot.store import Status
        from roadmap_bot.store.sql import SqlStore
        async def main():
            store = await SqlStore.open(sys.argv[1])
            await store.set_mark("console:bob", "etcd", Status.DONE, datetime.now(UTC))
            await store.progress("console:bob")
            print(sorted(await store.progress("console:alice")), flush=True)
            sys.stdin.readline()  # the other process writes now
            found = sorted(await store.progress("console:alice"))
            hits = store.marks_cache_counts()[0]
            bob = sorted(await store.progress("console:bob"))
            print(found, bob, store.marks_cache_counts()[0] - hits, flush=True)
            await store.close()
        asyncio.run(main())
        """
    )
    writer = textwrap.dedent(
        """
        import asyncio, sys
        from datetime import UTC, datetime
        from roadmap_bot.store import Status
        from roadmap_bot.store.sql import SqlStore
        async def main():
            store = await SqlStore.open(sys.argv[1])
            await store.set_mark("console:alice", sys.argv[2], Status.DONE, datetime.now(UTC))
            await store.close()
        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", writer, database, "fzf"], check=True, timeout=60)
    with subprocess.Popen(
        [sys.executable, "-c", reader, database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as first:
        assert first.stdin is not None and first.stdout is not None
        assert first.stdout.readline().strip() == "['fzf']"
        subprocess.run([sys.executable, "-c", writer, database, "redis"], check=True, timeout=60)
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.stdout.readline().strip() == "['fzf', 'redis'] ['etcd'] 1"
        assert first.wait(timeout=60) == 0


# -- PostgreSQL: the notification connection --------------------------------------------


async def _cut_listeners(url: str) -> None:
    """Kill every marks-cache LISTEN connection on the server, and wait until they are gone
    (their sockets closed), as a server restart or a network cut would."""
    conn = await asyncpg.connect(url)
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1", LISTENER_NAME
        )
        assert pids, "no marks cache is listening"
        for row in pids:
            await conn.execute("SELECT pg_terminate_backend($1)", row["pid"])
        for _ in range(400):
            alive = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = any($1::int[])",
                [r["pid"] for r in pids],
            )
            if alive == 0:
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the listening connections did not end")
    finally:
        await conn.close()


async def test_a_lost_notification_connection_never_serves_an_old_mark(
    postgres_url: str,
) -> None:
    reader, writer = await SqlStore.open(postgres_url), await SqlStore.open(postgres_url)
    try:
        await writer.set_mark("console:alice", "fzf", Status.DONE, T0)
        assert set(await reader.progress("console:alice")) == {"fzf"}  # cached
        await served_from_memory(reader, "console:alice")

        await _cut_listeners(postgres_url)  # nobody hears the next notification
        await writer.set_mark("console:alice", "redis", Status.DONE, T0)
        assert set(await reader.progress("console:alice")) == {"fzf", "redis"}

        # it listens again by itself, and then caches and hears changes as before
        for _ in range(400):
            await reader.progress("console:alice")
            hits = reader.marks_cache_counts()[0]
            await reader.progress("console:alice")
            if reader.marks_cache_counts()[0] > hits:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the cache never came back after the connection was lost")
        await writer.clear_mark("console:alice", "fzf")

        async def alice_lost_fzf() -> bool:
            return set(await reader.progress("console:alice")) == {"redis"}

        await seen(alice_lost_fzf, reader)
    finally:
        await reader.close()
        await writer.close()


# -- the rule for fetches under way (no database needed) ---------------------------------


class _Open(MarksCache):
    def __init__(self) -> None:
        super().__init__()
        self.live = True

    def check(self) -> bool:
        return True


def test_a_fetch_that_began_before_a_change_is_not_kept() -> None:
    cache = _Open()
    mark = {"fzf": Mark(Status.DONE, T0)}
    ticket = cache.ticket()  # alice's fetch begins ...
    cache.forget("console:alice")  # ... another process changes her meanwhile
    cache.put_many({"console:alice": mark, "console:bob": mark}, ticket)
    assert cache.get_many(["console:alice", "console:bob"]) == {"console:bob": mark}
    ticket = cache.ticket()
    cache.clear()  # everything dropped (a lost notification connection)
    cache.put_many({"console:carol": mark}, ticket)
    assert cache.get_many(["console:carol"]) == {}
    cache.put_many({"console:carol": mark}, cache.ticket())
    assert cache.get_many(["console:carol"]) == {"console:carol": mark}


async def test_a_mark_made_again_after_another_replica_cleared_it_is_told(
    postgres_url: str,
) -> None:
    """Replica A clears alice's fzf while replica B marks it done again; B's first read
    still saw it done, so B's statement made the row anew after A's delete. A must hear
    of that, or its cache keeps 'cleared' while the database says 'done'."""
    a, b = await SqlStore.open(postgres_url), await SqlStore.open(postgres_url)
    holder = await asyncpg.connect(postgres_url)
    try:
        await b.set_mark("console:alice", "fzf", Status.DONE, T0)
        assert set(await a.progress("console:alice")) == {"fzf"}  # cached in A

        async def waiting_on_locks(count: int) -> None:
            query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            for _ in range(600):
                if await holder.fetchval(query) >= count:
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(f"{count} writers never queued on the row lock")

        # Order the two writes with a row lock: A queues first, B reads fzf as done and
        # queues second; when the lock goes, A deletes and commits, then B inserts anew.
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "SELECT 1 FROM progress WHERE user_id = 'console:alice' AND project = 'fzf' FOR UPDATE"
        )
        clearing = asyncio.create_task(a.clear_mark("console:alice", "fzf"))
        await waiting_on_locks(1)
        marking = asyncio.create_task(b.set_mark("console:alice", "fzf", Status.DONE, T0))
        await waiting_on_locks(2)
        await tx.commit()
        await asyncio.gather(clearing, marking)

        truth = await _uncached(postgres_url, ["console:alice"])
        assert set(truth["console:alice"]) == {"fzf"}  # B's statement made it again
        assert await a.progress("console:alice") == truth["console:alice"]
        assert await b.progress("console:alice") == truth["console:alice"]
    finally:
        await holder.close()
        await a.close()
        await b.close()
