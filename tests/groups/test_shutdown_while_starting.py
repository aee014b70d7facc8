"""A shutdown that comes while a run is starting a batch of digests (reading the channels'
state for them) stops them too: none is posted after shutdown, and each is handed back
for the next worker at once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.news import GroupNews
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.digests import Subscription

from .conftest import RecordingPoster, member

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the Monday after NOW, 09:00 UTC


async def test_digests_being_started_when_shutdown_comes_are_handed_back_not_posted(
    roadmap: Roadmap, groups: StudyGroups, clock: FixedClock
) -> None:
    rooms = [f"console:room{i}" for i in range(3)]
    for room in rooms:
        assert (await roadmap.ask("subscribe beginner", member("ann", room))).ok
    clock.set(FIRST_DUE)
    store = groups.deliverer.store
    poster = RecordingPoster()
    worker = Deliverer(roadmap.catalog, store, clock, {"console": poster})
    reading, go_on = asyncio.Event(), asyncio.Event()

    async def slow_news(
        subs: Sequence[Subscription], members: Mapping[str, Sequence[str]]
    ) -> dict[str, GroupNews]:
        reading.set()  # the run has claimed the posts and reads what they will say
        await go_on.wait()
        return {}

    worker.news = slow_news
    running = asyncio.create_task(worker.run_due())
    await reading.wait()
    stopping = asyncio.create_task(worker.shutdown(grace=0))
    await asyncio.sleep(0)  # shutdown has begun (it gathers the tasks to wait for)
    go_on.set()
    await stopping
    await asyncio.wait_for(running, 30)  # a safety net: the run ends
    assert poster.posts == []
    # handed back: the next worker posts them now, without waiting for the leases
    other = RecordingPoster()
    successor = Deliverer(roadmap.catalog, store, clock, {"console": other})
    taken = await successor.run_due()
    assert taken.delivered == 3
    assert sorted(p.channel for p in other.posts) == rooms
