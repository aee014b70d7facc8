"""Two workers on one database running the same slot split its fan-out, and every
channel still gets its digest exactly once (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time

import pytest

from roadmap_bot.chat.replies import Reply
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.learning.catalog import Catalog
from roadmap_bot.store.digests import DigestStore
from roadmap_bot.store.sql import SqlStore

from .conftest import RecordingPoster

BEFORE = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 09:00 UTC: every channel's slot
CHANNELS = 40


class _GatedPoster(RecordingPoster):
    """Holds its posts until both workers have one under way: a worker that claimed the
    whole slot would leave the other nothing to post, and the run would never end."""

    def __init__(self, mine: asyncio.Event, theirs: asyncio.Event) -> None:
        super().__init__()
        self.mine = mine
        self.theirs = theirs

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        self.mine.set()
        await self.theirs.wait()
        return await super().post(channel, message, delivery_id)


@pytest.fixture
async def stores(database: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    """Two workers' own connections to one database (two replicas, in one process)."""
    first = await SqlStore.open(database)
    second = await SqlStore.open(database)
    yield first, second
    await second.close()
    await first.close()


async def test_two_workers_on_one_slot_split_it_and_post_each_channel_once(
    catalog: Catalog, stores: tuple[SqlStore, SqlStore]
) -> None:
    digests = DigestStore(stores[0])
    monday_nine = Schedule(0, time(9, 0), "UTC")
    for i in range(CHANNELS):
        await digests.subscribe(f"console:room{i}", "level:beginner", monday_nine, "u", BEFORE)
    a_started, b_started = asyncio.Event(), asyncio.Event()
    posters = (_GatedPoster(a_started, b_started), _GatedPoster(b_started, a_started))
    clock = FixedClock(DUE)
    workers = [
        # small batches, so that 40 channels make several of them
        Deliverer(catalog, store, clock, {"console": poster}, window=8, claim_batch=4)
        for store, poster in zip(stores, posters, strict=True)
    ]
    one, two = await asyncio.wait_for(
        asyncio.gather(*(w.run_due(DUE) for w in workers)), timeout=120
    )
    posted = [p.channel for poster in posters for p in poster.posts]
    assert sorted(posted) == sorted(f"console:room{i}" for i in range(CHANNELS))
    assert one.delivered + two.delivered == CHANNELS
    assert one.delivered == len(posters[0].posts) > 0
    assert two.delivered == len(posters[1].posts) > 0
    assert (one.failed, two.failed) == (0, 0)
    # nothing is left for a later run, on either worker
    again = await asyncio.gather(*(w.run_due(DUE) for w in workers))
    assert [s.delivered for s in again] == [0, 0]
    assert again[0].already == CHANNELS
