"""The SQLite store: WAL, migrations, marks, and data that outlives the process."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roadmap_bot.store import Status
from roadmap_bot.store.migrations import LATEST
from roadmap_bot.store.sqlite import SqliteStore, StoreError

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_new_database_is_wal_and_migrated(store: SqliteStore, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    conn.close()


async def test_marks_round_trip(store: SqliteStore) -> None:
    assert await store.set_mark("console:a", "fzf", Status.READING, T0) is None
    previous = await store.set_mark("console:a", "fzf", Status.DONE, T0 + timedelta(days=1))
    assert previous is not None and previous.status is Status.READING
    progress = await store.progress("console:a")
    assert progress["fzf"].status is Status.DONE
    assert progress["fzf"].at == T0 + timedelta(days=1)
    removed = await store.clear_mark("console:a", "fzf")
    assert removed is not None and removed.status is Status.DONE
    assert await store.progress("console:a") == {}


async def test_same_mark_again_keeps_its_date(store: SqliteStore) -> None:
    await store.set_mark("console:a", "fzf", Status.DONE, T0)
    await store.set_mark("console:a", "fzf", Status.DONE, T0 + timedelta(days=9))
    assert (await store.progress("console:a"))["fzf"].at == T0


async def test_ids_are_platform_qualified(store: SqliteStore) -> None:
    await store.set_mark("slack:T1:U1", "redis", Status.DONE, T0)
    await store.set_mark("slack:T2:U1", "kafka", Status.DONE, T0)
    assert set(await store.progress("slack:T1:U1")) == {"redis"}
    assert set(await store.progress("slack:T2:U1")) == {"kafka"}  # same user id, other workspace


async def test_concurrent_writes_are_all_kept(store: SqliteStore) -> None:
    await asyncio.gather(
        *(store.set_mark(f"console:u{i}", "fzf", Status.DONE, T0) for i in range(50))
    )
    everyone = await store.progress_of(f"console:u{i}" for i in range(50))
    assert all("fzf" in marks for marks in everyone.values())


async def test_a_failed_write_rolls_back(store: SqliteStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.write() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
            raise RuntimeError("boom")
    assert await store.get_meta("k") is None


async def test_user_names(store: SqliteStore) -> None:
    await store.remember_user("console:a", "Alice", T0)
    await store.remember_user("console:a", "Alice B.", T0)
    assert await store.user_names(["console:a", "console:x"]) == {"console:a": "Alice B."}


async def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await SqliteStore.open(tmp_path / "nope" / "x.db")


async def test_a_newer_schema_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this roadmap-bot"):
        await SqliteStore.open(db_path)


async def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot use database"):
        await SqliteStore.open(bad)


def _run(code: str, db: Path) -> str:
    script = textwrap.dedent(code).replace("DB", repr(str(db)))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_progress_survives_a_second_process(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    _run(
        """
        import asyncio
        from datetime import UTC, datetime
        from roadmap_bot.store import Status
        from roadmap_bot.store.sqlite import SqliteStore
        async def main():
            store = await SqliteStore.open(DB)
            await store.set_mark("console:alice", "redis", Status.DONE, datetime.now(UTC))
            await store.close()
        asyncio.run(main())
        """,
        db,
    )
    out = _run(
        """
        import asyncio
        from roadmap_bot.store.sqlite import SqliteStore
        async def main():
            store = await SqliteStore.open(DB)
            print(sorted(await store.progress("console:alice")))
            await store.close()
        asyncio.run(main())
        """,
        db,
    )
    assert out == "['redis']"


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "race.db"
    code = textwrap.dedent(
        """
        import asyncio, sys
        from datetime import UTC, datetime
        from roadmap_bot.store import Status
        from roadmap_bot.store.sqlite import SqliteStore
        async def main(who):
            store = await SqliteStore.open(DB)
            for i in range(100):
                await store.set_mark(f"console:{who}{i}", "fzf", Status.DONE, datetime.now(UTC))
            await store.close()
        asyncio.run(main(sys.argv[1]))
        """
    ).replace("DB", repr(str(db)))
    procs = [subprocess.Popen([sys.executable, "-c", code, who]) for who in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM progress").fetchone()[0] == 200
    conn.close()


async def test_cached_marks_see_another_process_writing(store: SqliteStore, db_path: Path) -> None:
    await store.set_mark("console:alice", "fzf", Status.DONE, T0)
    assert set(await store.progress("console:alice")) == {"fzf"}  # now cached
    _run(
        """
        import asyncio
        from datetime import UTC, datetime
        from roadmap_bot.store import Status
        from roadmap_bot.store.sqlite import SqliteStore
        async def main():
            store = await SqliteStore.open(DB)
            await store.set_mark("console:alice", "redis", Status.DONE, datetime.now(UTC))
            await store.close()
        asyncio.run(main())
        """,
        db_path,
    )
    assert set(await store.progress("console:alice")) == {"fzf", "redis"}


async def test_callers_cannot_change_cached_marks(store: SqliteStore) -> None:
    await store.set_mark("console:alice", "fzf", Status.DONE, T0)
    mine = await store.progress("console:alice")
    mine.clear()
    assert set(await store.progress("console:alice")) == {"fzf"}


async def test_follows_round_trip_latest_first(store: SqliteStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert await store.follows("console:a") == {}
    assert await store.follow("console:a", "web-development", t0)
    assert await store.follow("console:a", "observability-stack", t0 + timedelta(days=1))
    assert not await store.follow("console:a", "web-development", t0 + timedelta(days=2))
    assert list(await store.follows("console:a")) == ["observability-stack", "web-development"]
    assert (await store.follows("console:a"))["web-development"] == t0  # the first date stays
    assert await store.unfollow("console:a", "observability-stack")
    assert not await store.unfollow("console:a", "observability-stack")
    assert list(await store.follows("console:a")) == ["web-development"]
    assert await store.follows("console:b") == {}
