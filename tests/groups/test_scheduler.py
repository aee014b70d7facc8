"""APScheduler only wakes the deliverer: jobs follow the subscriptions table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.scheduler import DigestScheduler, cron_for
from roadmap_bot.groups.study_groups import StudyGroups

from .conftest import RecordingPoster, member


async def test_one_job_per_subscription_in_its_own_zone(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer
) -> None:
    scheduler = DigestScheduler(deliverer)
    groups.on_change = scheduler.changed
    await roadmap.ask(
        "subscribe beginner on monday at 09:00 tz America/New_York", member("a", "console:ny")
    )
    await roadmap.ask(
        "subscribe advanced on friday at 17:30 tz Europe/Berlin", member("b", "console:be")
    )
    await scheduler.start()
    assert scheduler.job_ids() == ["digest:1", "digest:2", "sweep"]
    ny = await deliverer.digests.subscription("console:ny")
    assert ny is not None
    trigger = cron_for(ny)
    # the first Monday after New York leaves DST still fires at 09:00 local
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    assert fire is not None
    assert fire.astimezone(UTC) == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    await roadmap.ask("unsubscribe", member("a", "console:ny"))
    await scheduler.rebuild()
    assert scheduler.job_ids() == ["digest:2", "sweep"]
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
