"""The deliverer: exactly once per week, catch-up, pauses, failures, content."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fakes.sleeps import Sleeps
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.chat.replies import ReplyKind
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer, DeliveryError
from roadmap_bot.groups.digest import plan
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.digests import DeliveryState
from roadmap_bot.store.schema import deliveries
from roadmap_bot.store.sql import SqlStore

from .conftest import BlockedPoster, RecordingPoster, member

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the Monday after NOW, 09:00 UTC


async def subscribe(roadmap: Roadmap, target: str, channel: str = "console:study") -> None:
    reply = await roadmap.ask(f"subscribe {target}", member("ann", channel))
    assert reply.ok, reply.title


async def test_posts_once_however_often_it_runs(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "web-development")
    early = await deliverer.run_due(FIRST_DUE - timedelta(seconds=1))
    assert (early.delivered, poster.posts) == (0, [])
    first = await deliverer.run_due(FIRST_DUE)
    again = await deliverer.run_due(FIRST_DUE + timedelta(minutes=5))
    assert first.line() == "delivered 1, already delivered 0, failed 0"
    assert again.line() == "delivered 0, already delivered 1, failed 0"
    assert poster.titles("console:study") == ["Project of the week: React"]
    assert poster.discussions == [("console:study", "m1")]
    assert poster.posts[0].message.public


async def test_concurrent_runs_in_one_process_post_once(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    for i in range(5):
        await subscribe(roadmap, "beginner", f"console:room{i}")
    await asyncio.gather(*(deliverer.run_due(FIRST_DUE) for _ in range(3)))
    assert sorted(p.channel for p in poster.posts) == [f"console:room{i}" for i in range(5)]


async def test_a_second_deliverer_on_the_same_database_posts_nothing_more(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "beginner")
    other = RecordingPoster()
    twin = Deliverer(roadmap.catalog, deliverer.store, deliverer.clock, {"console": other})
    one, two = await asyncio.gather(deliverer.run_due(FIRST_DUE), twin.run_due(FIRST_DUE))
    assert one.delivered + two.delivered == 1
    assert len(poster.posts) + len(other.posts) == 1


async def test_restart_after_a_missed_week_catches_up_once(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "web-development")
    summary = await deliverer.run_due(FIRST_DUE + timedelta(hours=20))  # down since Sunday
    assert summary.delivered == 1 and summary.missed == 0
    assert len(poster.posts) == 1


async def test_a_miss_older_than_the_window_is_recorded_never_posted(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "web-development")
    summary = await deliverer.run_due(FIRST_DUE + timedelta(hours=30))
    assert summary.line() == "delivered 0, already delivered 0, failed 0, missed 1"
    assert poster.posts == []
    schedule = await roadmap.ask("schedule", member("bob"))
    facts = {f.label: f.value for f in schedule.facts}
    assert facts["Last delivery"] == (
        "Mon 30 Nov 2026, 09:00 UTC (UTC+00:00): "
        "missed (the bot was offline for longer than the catch-up window)"
    )
    # no week is lost: next week brings the same first step
    await deliverer.run_due(FIRST_DUE + timedelta(days=7))
    assert poster.titles("console:study") == ["Project of the week: React"]


async def test_long_downtime_posts_only_the_latest_week(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "web-development")
    summary = await deliverer.run_due(FIRST_DUE + timedelta(days=21, hours=2))
    assert (summary.delivered, summary.missed) == (1, 3)
    assert poster.titles("console:study") == ["Project of the week: React"]


async def test_a_pause_posts_nothing_and_the_path_waits(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "web-development")
    await roadmap.ask("pause 2026-12-10", member("ann"))
    for week in range(2):  # 30 Nov and 7 Dec fall in the pause
        summary = await deliverer.run_due(FIRST_DUE + timedelta(days=7 * week))
        assert summary.delivered == 0 and summary.missed == 0
    await deliverer.run_due(FIRST_DUE + timedelta(days=14))
    assert poster.titles("console:study") == ["Project of the week: React"]
    states = [d.state for d in await deliverer.digests.deliveries("console:study")]
    assert states == [DeliveryState.SENT, DeliveryState.PAUSED, DeliveryState.PAUSED]


async def test_a_permanent_error_pauses_that_channel_only(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "beginner", "console:gone")
    await subscribe(roadmap, "beginner", "console:fine")
    poster.failures["console:gone"] = [DeliveryError("channel_not_found", permanent=True)]
    summary = await deliverer.run_due(FIRST_DUE)
    assert (summary.delivered, summary.failed) == (1, 1)
    assert summary.problems == ["console:gone: channel_not_found"]
    schedule = await roadmap.ask("schedule", member("ann", "console:gone"))
    problem = {f.label: f.value for f in schedule.facts}["Delivery problem"]
    assert problem == "channel_not_found 'resume' tries again once it is fixed."
    nothing = await deliverer.run_due(FIRST_DUE + timedelta(minutes=5))
    assert nothing.delivered == 0 and len(poster.posts) == 1
    await roadmap.ask("resume", member("ann", "console:gone"))
    retried = await deliverer.run_due(FIRST_DUE + timedelta(minutes=10))
    assert retried.delivered == 1
    assert poster.titles("console:gone") == ["Project of the week: fzf"]


async def test_rate_limits_are_waited_out(
    roadmap: Roadmap,
    groups: StudyGroups,
    deliverer: Deliverer,
    poster: RecordingPoster,
    sleeps: Sleeps,
) -> None:
    await subscribe(roadmap, "beginner")
    poster.failures["console:study"] = [
        DeliveryError("ratelimited", retry_after=3.0),
        DeliveryError("ratelimited", retry_after=2.0),
    ]
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.delivered == 1
    assert sleeps.delays == [3.0, 2.0]


async def test_transient_failures_are_retried_later_within_the_window(
    roadmap: Roadmap,
    groups: StudyGroups,
    deliverer: Deliverer,
    poster: RecordingPoster,
    sleeps: Sleeps,
) -> None:
    await subscribe(roadmap, "beginner")
    poster.failures["console:study"] = [DeliveryError("internal_error")] * 4
    first = await deliverer.run_due(FIRST_DUE)
    assert (first.delivered, first.failed) == (0, 1)
    assert sleeps.delays == [0.5, 1.0, 2.0]  # backoff between the four attempts
    later = await deliverer.run_due(FIRST_DUE + timedelta(minutes=5))
    assert later.delivered == 1 and len(poster.posts) == 1


async def test_a_lost_answer_is_checked_before_posting_again(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "beginner")
    real_post = poster.post

    async def post_then_lose_the_answer(channel: str, message: object, delivery_id: str) -> str:
        await real_post(channel, message, delivery_id)  # type: ignore[arg-type]
        raise ConnectionResetError("connection reset by peer")

    poster.post = post_then_lose_the_answer  # type: ignore[method-assign]
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.delivered == 1
    assert len(poster.posts) == 1 and poster.history_lookups == 1


async def test_a_crash_between_posting_and_recording_does_not_post_twice(
    roadmap: Roadmap,
    groups: StudyGroups,
    deliverer: Deliverer,
    poster: RecordingPoster,
    clock: FixedClock,
) -> None:
    await subscribe(roadmap, "beginner")
    real_post = poster.post

    async def post_then_crash(channel: str, message: object, delivery_id: str) -> str:
        await real_post(channel, message, delivery_id)  # type: ignore[arg-type]
        raise asyncio.CancelledError  # the process dies here

    poster.post = post_then_crash  # type: ignore[method-assign]
    crashed = await deliverer.run_due(FIRST_DUE)
    assert crashed.line() == "delivered 0, already delivered 0, failed 0, in progress 1"
    poster.post = real_post  # type: ignore[method-assign]
    # a claim whose lease is live is left alone (its worker may be sending), and said so ...
    busy = await deliverer.run_due(FIRST_DUE + timedelta(minutes=1))
    assert busy.line() == "delivered 0, already delivered 0, failed 0, in progress 1"
    assert len(poster.posts) == 1
    # ... an expired one is checked against the platform, which has it
    recovered = await deliverer.run_due(FIRST_DUE + timedelta(minutes=15))
    assert recovered.delivered == 1
    assert len(poster.posts) == 1 and poster.history_lookups == 1
    assert poster.discussions == [("console:study", "m1")]  # the prompts still follow


async def test_a_whole_path_then_the_completion_post(
    roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, poster: RecordingPoster
) -> None:
    await subscribe(roadmap, "web-development")
    bob = member("bob")
    for week in range(6):
        await deliverer.run_due(FIRST_DUE + timedelta(days=7 * week))
        if week == 0:
            await roadmap.ask("done react", bob)
    assert poster.titles("console:study") == [
        "Project of the week: React",
        "Project of the week: Next.js",
        "Project of the week: Vite",
        "Project of the week: Svelte",
        "Web Development: complete!",
    ]
    first, second, *_, last, completion = [p.message for p in poster.posts]
    assert {f.label: f.value for f in first.facts}["Step"] == "1 of 4 in Web Development"
    assert first.footer == "Next week: Next.js."
    why = next(s for s in second.sections if s.heading == "Why this one").text
    line = roadmap.catalog.paths_of("nextjs")[0].line
    assert why.startswith(f"Step 2 of 4 in Web Development. {line} It builds on React (step 1).")
    recap = next(s for s in second.sections if s.heading == "Last week: React").text
    assert recap == "bob has marked it done."
    assert "@" not in recap and "<" not in recap
    meter = next(s for s in second.sections if s.heading == "The group so far").meters[0]
    assert (meter.done, meter.total) == (1, 4)
    assert last.footer.startswith("This is the last step")
    assert completion.kind is ReplyKind.DIGEST
    assert any((a.command or "").startswith("subscribe ") for a in completion.actions)
    assert "Next, try" in completion.text
    assert await deliverer.digests.subscription("console:study") is None  # ended
    assert not (await roadmap.ask("schedule", bob)).ok


async def test_a_level_walk_covers_the_level_once_from_the_start(roadmap: Roadmap) -> None:
    from roadmap_bot.learning.catalog import Level

    steps = plan(roadmap.catalog, "level:intermediate")
    level = [p.slug for p in roadmap.catalog.level(Level.INTERMEDIATE)]
    assert sorted(steps) == sorted(level) and steps[0] == level[0]
    assert len(set(steps)) == len(steps)


async def _posting(slow: BlockedPoster, running: asyncio.Task[Any]) -> None:
    """Wait until the run's post is under way. A safety net: a run that ended first
    raises its error here, and one that never posts fails after 30 s (either hung the
    test before)."""
    waiting = asyncio.ensure_future(slow.waiting.wait())
    await asyncio.wait([waiting, running], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if waiting.done():
        return
    waiting.cancel()
    if running.done():
        running.result()  # its error
    pytest.fail("the run did not post within 30 s")


async def test_a_run_renews_its_leases_while_a_post_is_slow(
    roadmap: Roadmap, groups: StudyGroups, clock: FixedClock
) -> None:
    await subscribe(roadmap, "beginner")
    slow = BlockedPoster()
    clock.set(FIRST_DUE)
    worker = Deliverer(
        roadmap.catalog, deliverer_store(groups), clock, {"console": slow}, renew_every=0.01
    )
    running = asyncio.create_task(worker.run_due())
    await _posting(slow, running)
    clock.advance(timedelta(minutes=10))  # far past the 2-minute lease...
    await _lease_reaches_past(deliverer_store(groups), clock.now())  # ... which the run renews
    other = RecordingPoster()
    twin = Deliverer(roadmap.catalog, deliverer_store(groups), clock, {"console": other})
    busy = await twin.run_due()
    assert busy.line() == "delivered 0, already delivered 0, failed 0, in progress 1"
    slow.release.set()
    assert (await running).delivered == 1
    assert len(slow.posts) == 1 and other.posts == []


async def test_shutdown_hands_back_unfinished_leases_for_the_next_worker_at_once(
    roadmap: Roadmap, groups: StudyGroups, clock: FixedClock
) -> None:
    await subscribe(roadmap, "beginner")
    slow = BlockedPoster()
    clock.set(FIRST_DUE)
    worker = Deliverer(roadmap.catalog, deliverer_store(groups), clock, {"console": slow})
    before = asyncio.all_tasks()
    running = asyncio.create_task(worker.run_due())
    await _posting(slow, running)  # the post is under way when SIGTERM comes
    await worker.shutdown(grace=0.05)
    stopped = await running
    assert stopped.line() == "delivered 0, already delivered 0, failed 0, in progress 1"
    # nothing of the run is left running when the store closes after a shutdown
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()
    assert (await worker.run_due()).line() == "delivered 0, already delivered 0, failed 0"
    # no waiting for the lease to expire: the next worker checks the platform, then posts
    other = RecordingPoster()
    successor = Deliverer(roadmap.catalog, deliverer_store(groups), clock, {"console": other})
    taken = await successor.run_due()
    assert taken.delivered == 1 and other.history_lookups == 1
    assert other.titles("console:study") == ["Project of the week: fzf"]


async def test_a_finished_run_leaves_nothing_of_its_own_running(
    roadmap: Roadmap, groups: StudyGroups, clock: FixedClock
) -> None:
    """The run's lease renewer (and its count of recent posts) end with the run, not
    after it: one cancelled but still unwinding a database call when the store closed
    waited forever, and the process never exited (seen twice in the suite's teardown)."""
    await subscribe(roadmap, "beginner")
    clock.set(FIRST_DUE)
    worker = Deliverer(
        roadmap.catalog,
        deliverer_store(groups),
        clock,
        {"console": RecordingPoster()},
        renew_every=0.001,
    )
    before = asyncio.all_tasks()
    assert (await worker.run_due()).delivered == 1
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()


def deliverer_store(groups: StudyGroups) -> SqlStore:
    return groups.deliverer.store


async def _lease_reaches_past(store: SqlStore, instant: datetime) -> None:
    """Wait for the run's renewer to move the lease past ``instant``: a fixed sleep
    lost that race on a busy machine (the renewal is a write on another thread)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # a safety net only
    while True:
        async with store.db.read() as conn:
            until = (await conn.execute(sa.select(deliveries.c.lease_until))).scalar_one()
        if until is not None and until > instant:
            return
        assert loop.time() < deadline, f"the lease was not renewed (until {until})"
        await asyncio.sleep(0.01)


async def test_the_lease_outlives_a_retry_after_it_waits(
    roadmap: Roadmap, groups: StudyGroups, poster: RecordingPoster, clock: FixedClock
) -> None:
    await subscribe(roadmap, "beginner")
    clock.set(FIRST_DUE)
    other = RecordingPoster()
    twin = Deliverer(roadmap.catalog, deliverer_store(groups), clock, {"console": other})
    seen: list[str] = []

    async def wait(seconds: float) -> None:  # while this run waits, another one comes
        clock.advance(timedelta(seconds=seconds))
        seen.append((await twin.run_due()).line())

    # a 30-second lease and a 50-second Retry-After (under the 60-second cap)
    worker = Deliverer(
        roadmap.catalog,
        deliverer_store(groups),
        clock,
        {"console": poster},
        sleep=wait,
        lease=timedelta(seconds=30),
    )
    poster.failures["console:study"] = [DeliveryError("ratelimited", retry_after=50.0)]
    summary = await worker.run_due()
    assert seen == ["delivered 0, already delivered 0, failed 0, in progress 1"]
    assert summary.delivered == 1
    assert len(poster.posts) == 1 and other.posts == []


async def test_a_worker_whose_lease_was_taken_over_while_it_waited_does_not_post(
    roadmap: Roadmap,
    groups: StudyGroups,
    poster: RecordingPoster,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await subscribe(roadmap, "beginner")
    clock.set(FIRST_DUE)
    other = RecordingPoster()
    twin = Deliverer(roadmap.catalog, deliverer_store(groups), clock, {"console": other})
    seen: list[str] = []

    async def stalled(seconds: float) -> None:  # the worker stalls far past its lease
        clock.advance(timedelta(minutes=11))
        seen.append((await twin.run_due()).line())

    worker = Deliverer(
        roadmap.catalog, deliverer_store(groups), clock, {"console": poster}, sleep=stalled
    )
    poster.failures["console:study"] = [DeliveryError("ratelimited", retry_after=5.0)]
    summary = await worker.run_due()
    # the twin took the week over, looked, and posted; the worker woke and stood back
    assert seen == ["delivered 1, already delivered 0, failed 0"]
    assert summary.line() == "delivered 0, already delivered 0, failed 0, in progress 1"
    assert poster.posts == [] and len(other.posts) == 1 and other.history_lookups == 1
    assert any("was taken over: not posting" in r.getMessage() for r in caplog.records)
