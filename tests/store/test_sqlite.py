"""What only the SQLite file does: WAL, legacy numbering, and several processes on one file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from roadmap_bot.store import Status
from roadmap_bot.store.database import StoreError
from roadmap_bot.store.migrate import ALEMBIC_USER_VERSION, LEGACY_REVISIONS
from roadmap_bot.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqlStore]:
    store = await SqlStore.open(db_path)
    yield store
    await store.close()


async def test_new_database_is_wal_and_migrated(store: SqlStore, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # a release from before Alembic reads this as newer than itself and refuses the file
    assert conn.execute("PRAGMA user_version").fetchone()[0] == ALEMBIC_USER_VERSION
    conn.close()


async def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await SqlStore.open(tmp_path / "nope" / "x.db")


async def test_a_newer_schema_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {max(LEGACY_REVISIONS) + 1}")  # pre-Alembic numbering
    conn.close()
    with pytest.raises(StoreError, match="newer than this roadmap-bot"):
        await SqlStore.open(db_path)


async def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot use database"):
        await SqlStore.open(bad)


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
        from roadmap_bot.store.sql import SqlStore
        async def main():
            store = await SqlStore.open(DB)
            await store.set_mark("console:alice", "redis", Status.DONE, datetime.now(UTC))
            await store.close()
        asyncio.run(main())
        """,
        db,
    )
    out = _run(
        """
        import asyncio
        from roadmap_bot.store.sql import SqlStore
        async def main():
            store = await SqlStore.open(DB)
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
        from roadmap_bot.store.sql import SqlStore
        async def main(who):
            store = await SqlStore.open(DB)
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


async def test_cached_marks_see_another_process_writing(store: SqlStore, db_path: Path) -> None:
    await store.set_mark("console:alice", "fzf", Status.DONE, T0)
    assert set(await store.progress("console:alice")) == {"fzf"}  # now cached
    _run(
        """
        import asyncio
        from datetime import UTC, datetime
        from roadmap_bot.store import Status
        from roadmap_bot.store.sql import SqlStore
        async def main():
            store = await SqlStore.open(DB)
            await store.set_mark("console:alice", "redis", Status.DONE, datetime.now(UTC))
            await store.close()
        asyncio.run(main())
        """,
        db_path,
    )
    assert set(await store.progress("console:alice")) == {"fzf", "redis"}
