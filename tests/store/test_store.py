"""The store on both engines: marks, names, settings, transactions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from roadmap_bot.store import Status
from roadmap_bot.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_marks_round_trip(store: SqlStore) -> None:
    assert await store.set_mark("console:a", "fzf", Status.READING, T0) is None
    previous = await store.set_mark("console:a", "fzf", Status.DONE, T0 + timedelta(days=1))
    assert previous is not None and previous.status is Status.READING
    progress = await store.progress("console:a")
    assert progress["fzf"].status is Status.DONE
    assert progress["fzf"].at == T0 + timedelta(days=1)
    removed = await store.clear_mark("console:a", "fzf")
    assert removed is not None and removed.status is Status.DONE
    assert await store.progress("console:a") == {}


async def test_same_mark_again_keeps_its_date(store: SqlStore) -> None:
    await store.set_mark("console:a", "fzf", Status.DONE, T0)
    await store.set_mark("console:a", "fzf", Status.DONE, T0 + timedelta(days=9))
    assert (await store.progress("console:a"))["fzf"].at == T0


async def test_ids_are_platform_qualified(store: SqlStore) -> None:
    await store.set_mark("slack:T1:U1", "redis", Status.DONE, T0)
    await store.set_mark("slack:T2:U1", "kafka", Status.DONE, T0)
    assert set(await store.progress("slack:T1:U1")) == {"redis"}
    assert set(await store.progress("slack:T2:U1")) == {"kafka"}  # same user id, other workspace


async def test_concurrent_writes_are_all_kept(store: SqlStore) -> None:
    await asyncio.gather(
        *(store.set_mark(f"console:u{i}", "fzf", Status.DONE, T0) for i in range(50))
    )
    everyone = await store.progress_of(f"console:u{i}" for i in range(50))
    assert all("fzf" in marks for marks in everyone.values())


async def test_a_failed_write_rolls_back(store: SqlStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.write() as conn:
            await conn.execute(text("INSERT INTO meta (key, value) VALUES ('k', 'v')"))
            raise RuntimeError("boom")
    assert await store.get_meta("k") is None


async def test_user_names(store: SqlStore) -> None:
    await store.remember_user("console:a", "Alice", T0)
    await store.remember_user("console:a", "Alice B.", T0)
    assert await store.user_names(["console:a", "console:x"]) == {"console:a": "Alice B."}


async def test_callers_cannot_change_cached_marks(store: SqlStore) -> None:
    await store.set_mark("console:alice", "fzf", Status.DONE, T0)
    mine = await store.progress("console:alice")
    mine.clear()
    assert set(await store.progress("console:alice")) == {"fzf"}


async def test_follows_round_trip_latest_first(store: SqlStore) -> None:
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
