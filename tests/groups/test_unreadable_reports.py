"""A report whose outline cannot be read: the digests still go out, and the operator is
told once per report per run, however many channels that report's digest goes to."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from fakes.sleeps import Sleeps
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.digest import ReadingAgenda
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.sql import SqlStore

from .conftest import RecordingPoster, member

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the Monday after NOW, 09:00 UTC
CHANNELS = ["console:one", "console:two", "console:three"]


async def test_an_unreadable_report_is_logged_once_per_run_not_once_per_channel(
    roadmap: Roadmap,
    store: SqlStore,
    clock: FixedClock,
    poster: RecordingPoster,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def agenda(slug: str, timeout: float) -> ReadingAgenda | None:
        raise OSError(f"the report host refused {slug}")

    deliverer = Deliverer(
        roadmap.catalog, store, clock, {"console": poster}, sleep=sleeps, agenda=agenda
    )
    StudyGroups(roadmap, deliverer, default_zone="UTC")
    for channel in CHANNELS:
        assert (await roadmap.ask("subscribe beginner", member("ann", channel))).ok

    def warnings() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.WARNING and "no reading agenda" in r.getMessage()
        ]

    with caplog.at_level(logging.WARNING):
        await deliverer.run_due(FIRST_DUE)
    assert sorted(p.channel for p in poster.posts) == sorted(CHANNELS)  # every digest went out
    first = warnings()
    assert first, "the operator is told the report could not be read"
    assert len(first) == len(set(first))  # each report once, not once per channel
    assert all("refused" in line for line in first)  # with the reason

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        await deliverer.run_due(FIRST_DUE + timedelta(days=7))
    assert len(poster.posts) == 2 * len(CHANNELS)
    second = warnings()
    assert second and len(second) == len(set(second))  # a new run says it again, once
