"""APScheduler only wakes the deliverer: one job, at the next instant a subscription falls
due in its own zone, whatever the number of subscriptions."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta

import pytest

from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.groups.scheduler import DigestScheduler
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.sql import SqlStore

from .conftest import BlockedPoster, RecordingPoster, member


async def test_one_wake_job_at_the_next_instant_due_in_each_zone(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 10, 30, 12, 0, tzinfo=UTC))  # New York leaves DST on Nov 1
    scheduler = DigestScheduler(deliverer)
    groups.on_change = scheduler.changed
    await roadmap.ask(
        "subscribe beginner on monday at 09:00 tz America/New_York", member("a", "console:ny")
    )
    await roadmap.ask(
        "subscribe advanced on friday at 17:30 tz Europe/Berlin", member("b", "console:be")
    )
    await scheduler.start()
    try:
        assert scheduler.job_ids() == ["digest:next", "sweep"]
        # Berlin's Friday 17:30 comes first (CET since Oct 25: 16:30 UTC)
        assert scheduler.next_due == datetime(2026, 10, 30, 16, 30, tzinfo=UTC)
        await roadmap.ask("unsubscribe", member("b", "console:be"))
        while scheduler._rebuilding is not None and not scheduler._rebuilding.done():
            await asyncio.sleep(0)  # changed() sets the job again in the background
        # the first Monday after New York leaves DST is still 09:00 local: 14:00 UTC
        assert scheduler.next_due == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
        assert scheduler.job_ids() == ["digest:next", "sweep"]
        await roadmap.ask("unsubscribe", member("a", "console:ny"))
        await scheduler.rebuild()
        assert scheduler.next_due is None
        assert scheduler.job_ids() == ["sweep"]
    finally:
        await scheduler.stop()


class _Shifted:
    """The real clock moved by ``offset``: time passes, and a slot is moments away."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def test_the_wake_job_delivers_when_the_instant_comes_then_waits_for_the_next(
    roadmap: Roadmap, store: SqlStore, poster: RecordingPoster
) -> None:
    due = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    clock = _Shifted(due - datetime.now(UTC) - timedelta(seconds=0.5))
    deliverer = Deliverer(roadmap.catalog, store, clock, {"console": poster})
    monday_nine = Schedule(0, time(9, 0), "UTC")
    await deliverer.digests.subscribe(
        "console:room", "level:beginner", monday_nine, "u", due - timedelta(days=2)
    )
    scheduler = DigestScheduler(deliverer)
    await scheduler.start()
    try:
        assert scheduler.next_due == due
        for _ in range(600):  # nothing is due before the job wakes; it wakes in 0.5 s
            if poster.posts and scheduler.next_due != due:
                break
            await asyncio.sleep(0.05)
        assert [p.channel for p in poster.posts] == ["console:room"]
        assert scheduler.next_due == due + timedelta(days=7)
    finally:
        await scheduler.stop()


async def test_start_catches_up_and_shutdown_stops(
    roadmap: Roadmap,
    groups: StudyGroups,
    deliverer: Deliverer,
    clock: FixedClock,
    poster: RecordingPoster,
) -> None:
    await roadmap.ask("subscribe beginner", member("a"))
    clock.advance(timedelta(days=7))  # the bot was down over Monday 09:00
    scheduler = DigestScheduler(deliverer)
    await scheduler.start()
    summary = await scheduler.catch_up()
    try:
        assert summary.delivered == 1
        assert "sweep" in scheduler.job_ids()
        assert poster.titles("console:study") == ["Project of the week: fzf"]
    finally:
        await scheduler.stop()
    assert not scheduler.scheduler.running


async def test_stopping_during_a_timed_run_leaves_nothing_running_and_logs_no_error(
    roadmap: Roadmap, store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A shutdown while the wake job's run posts: the post is handed back, and when stop()
    returns nothing of the scheduler is left running (the store closes next; a task left
    in a database call would wait forever) and nothing was logged as an error."""
    due = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    clock = _Shifted(due - datetime.now(UTC) - timedelta(seconds=0.3))
    slow = BlockedPoster()
    deliverer = Deliverer(roadmap.catalog, store, clock, {"console": slow})
    await deliverer.digests.subscribe(
        "console:room",
        "level:beginner",
        Schedule(0, time(9, 0), "UTC"),
        "u",
        due - timedelta(days=2),
    )
    scheduler = DigestScheduler(deliverer)
    before = asyncio.all_tasks()
    await scheduler.start()
    await asyncio.wait_for(slow.waiting.wait(), 30)  # the wake came; its post is under way
    with caplog.at_level(logging.WARNING):
        await scheduler.stop(grace=0.05)
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert slow.posts == []  # handed back: the next worker looks, then posts
