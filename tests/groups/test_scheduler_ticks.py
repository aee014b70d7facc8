"""Every subscription on a slot fires its own job at the same instant: they make one run."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.scheduler import DigestScheduler
from roadmap_bot.groups.study_groups import StudyGroups

from .conftest import RecordingPoster, member

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the Monday after NOW, 09:00 UTC


async def test_jobs_firing_together_share_one_run_and_post_each_channel_once(
    roadmap: Roadmap,
    groups: StudyGroups,
    deliverer: Deliverer,
    poster: RecordingPoster,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rooms = [f"console:room{i}" for i in range(5)]
    for room in rooms:
        reply = await roadmap.ask("subscribe beginner", member("ann", room))
        assert reply.ok, reply.title
    scheduler = DigestScheduler(deliverer)
    clock.set(FIRST_DUE)
    caplog.set_level(logging.INFO, logger="roadmap_bot.groups.delivery")
    # the five subscriptions' cron jobs, and more of the same minute, fire at once
    await asyncio.gather(*(scheduler._job() for _ in range(20)))
    assert sorted(p.channel for p in poster.posts) == rooms
    runs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("digests at")]
    assert runs == [
        "digests at 2026-11-30T09:00:00+00:00: delivered 5, already delivered 0, failed 0"
    ]
