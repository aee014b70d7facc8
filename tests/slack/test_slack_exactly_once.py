"""Issue 10's failures 1-4 on Slack, through slack_sdk against the fake Slack: real
`digest run-due` and `serve` processes where a process boundary matters (two workers,
kill -9), the deliverer in-process where it does not. Each ends with zero duplicate and
zero lost posts, or with what the user is shown."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from fakes.runs import Run, clean_env, run_due, start, subscribe_channels
from fakes.slack_api import JSON, Answer, Call, FakeSlack
from fakes.slack_requests import BOT_TOKEN, SIGNING_SECRET
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.slack.api import web_client
from roadmap_bot.adapters.slack.poster import SlackPoster
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import Settings
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.digests import DeliveryState, DigestStore
from roadmap_bot.store.schema import deliveries
from roadmap_bot.store.sql import SqlStore

CREATED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the first Monday 09:00 UTC after CREATED


def posts(fake: FakeSlack, channel: str) -> list[dict[str, object]]:
    return [m for m in fake.messages[channel] if "thread_ts" not in m]


def replies(fake: FakeSlack, channel: str) -> list[dict[str, object]]:
    return [m for m in fake.messages[channel] if "thread_ts" in m]


def in_channel(channel: str, *, thread: bool | None = None) -> Callable[[JSON], bool]:
    def where(params: JSON) -> bool:
        if params.get("channel") != channel:
            return False
        return thread is None or ("thread_ts" in params) == thread

    return where


def slack_env(fake: FakeSlack, db: Path) -> dict[str, str]:
    return clean_env(
        ROADMAP_DB=str(db),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        ROADMAP_REPORT_URL=fake.url + "/oss/{name}.md",  # never the internet
    )


def one_post_and_one_thread_each(fake: FakeSlack, channels: list[str]) -> None:
    for channel in channels:
        top = posts(fake, channel)
        assert len(top) == 1, f"{channel}: {len(top)} posts"
        threads = [m for m in replies(fake, channel) if m["thread_ts"] == top[0]["ts"]]
        assert len(threads) == 1, f"{channel}: {len(threads)} thread replies"


async def sent_rows(db: Path) -> dict[str, tuple[DeliveryState, str | None, str | None]]:
    store = await SqlStore.open(db)
    try:
        async with store.db.read() as conn:
            rows = await conn.execute(
                sa.select(deliveries.c.channel, deliveries.c.state, deliveries.c.error).add_columns(
                    deliveries.c.discussion
                )
            )
            return {str(c): (DeliveryState(str(s)), e, d) for c, s, e, d in rows}
    finally:
        await store.close()


# -- 1. a slow worker and a second run: never two posts ------------------------------------------


async def test_a_worker_held_by_a_429_never_posts_after_its_lease_was_taken_over(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    await subscribe_channels(db, ["slack:T1:C1"], CREATED)
    fake_slack.now = DUE.timestamp
    # The first worker's post gets a 429 with a 5 s Retry-After (under the cap: it would
    # wait), and that answer is held until the second worker is done: however long a
    # busy machine takes to start the second process, the first never gets ahead of it.
    ratelimited = {"ok": False, "error": "ratelimited"}
    answered = asyncio.Event()
    fake_slack.script_channel(
        "chat.postMessage",
        "C1",
        Answer(429, ratelimited, headers={"Retry-After": "5"}, until=answered),
    )
    env = slack_env(fake_slack, db)
    first = await run_due(tmp_path, env, DUE)
    await fake_slack.wait_for("chat.postMessage", where=lambda c: c.status == 429, timeout=60)
    # Eleven minutes later by the schedule's clock another run comes: the first one's
    # lease has expired, so it takes the week over, looks in the channel, and posts.
    second = await run_due(tmp_path, env, DUE + timedelta(minutes=11))
    code, out, err = await second.finish()
    assert code == 0, err
    assert out.strip() == "delivered 1, already delivered 0, failed 0"
    # The first worker hears its 429, finds its lease gone, and does not post.
    answered.set()
    code, out, err = await first.finish()
    assert code == 0, err
    assert out.strip() == "delivered 0, already delivered 0, failed 0, in progress 1"
    assert "taken over: not posting" in err
    one_post_and_one_thread_each(fake_slack, ["C1"])
    assert len(fake_slack.calls_to("conversations.history")) == 1  # the second one looked
    assert (await sent_rows(db))["slack:T1:C1"] == (DeliveryState.SENT, None, None)


# -- 2. one channel's Retry-After holds up nothing else ----------------------------------------


def member(channel: str) -> Asker:
    return Asker(id="slack:T1:U9", name="una", channel=channel)


async def test_a_retry_after_over_the_cap_is_rescheduled_not_awaited(
    roadmap: Roadmap,
    store: SqlStore,
    deliverer: Deliverer,
    fake_slack: FakeSlack,
    waits: Sleeps,
) -> None:
    groups = StudyGroups(roadmap, deliverer, default_zone="UTC")
    assert groups is not None
    for channel in ("C1", "C2", "C3"):
        await subscribe_channels(Path(store.path), [f"slack:T1:{channel}"], CREATED)
    ratelimited = {"ok": False, "error": "ratelimited"}
    fake_slack.script_channel(
        "chat.postMessage", "C1", Answer(429, ratelimited, headers={"Retry-After": "3600"})
    )
    fake_slack.script_channel(
        "chat.postMessage", "C2", Answer(429, ratelimited, headers={"Retry-After": "2"})
    )
    summary = await deliverer.run_due(DUE)
    assert summary.line() == "delivered 2, already delivered 0, failed 0, rescheduled 1"
    # C2's own wait (and the 1 s pauses before thread replies); C1's hour was never waited
    assert max(waits.delays) == 2.0 and waits.delays.count(2.0) == 1
    assert [len(posts(fake_slack, c)) for c in ("C1", "C2", "C3")] == [0, 1, 1]
    schedule = await roadmap.ask("schedule", member("slack:T1:C1"))
    problem = {f.label: f.value for f in schedule.facts}["Delivery problem"]
    assert problem == "Slack rate limit (asked to wait 3600 s); retried after 10:00 UTC"
    # Before that time a run leaves it alone; after it, the week goes out once.
    early = await deliverer.run_due(DUE + timedelta(minutes=30))
    assert early.line() == "delivered 0, already delivered 2, failed 0, rescheduled 1"
    late = await deliverer.run_due(DUE + timedelta(minutes=61))
    assert late.delivered == 1
    one_post_and_one_thread_each(fake_slack, ["C1", "C2", "C3"])


async def test_channels_do_not_wait_for_another_channels_retry_after(
    roadmap: Roadmap,
    store: SqlStore,
    clock: FixedClock,
    slack_settings: Settings,
    fake_slack: FakeSlack,
) -> None:
    # C1's one-second Retry-After must hold up C1 only. Its wait ends when C2's post is
    # out (not after a real second, which a busy machine may stretch): were C2 queued
    # behind C1's wait, that would never happen and C1's delivery would fail.
    fake_slack.now = lambda: clock.now().timestamp()
    poster = SlackPoster(web_client(slack_settings, handlers=[]))
    waits: list[float] = []
    c2_posted = in_channel("C2", thread=False)

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        await fake_slack.wait_for(
            "chat.postMessage", where=lambda c: c2_posted(c.params) and c.status == 200, timeout=30
        )

    deliverer = Deliverer(roadmap.catalog, store, clock, {"slack": poster}, sleep=wait)
    await subscribe_channels(Path(store.path), ["slack:T1:C1", "slack:T1:C2"], CREATED)
    ratelimited = {"ok": False, "error": "ratelimited"}
    fake_slack.script_channel(
        "chat.postMessage", "C1", Answer(429, ratelimited, headers={"Retry-After": "1"})
    )
    summary = await deliverer.run_due(DUE)
    assert summary.line() == "delivered 2, already delivered 0, failed 0"
    # C1 waited as long as Slack asked (the others: the pause before each thread reply)
    assert waits.count(1.0) == 1 and max(waits) == 1.0
    top = [c for c in fake_slack.calls_to("chat.postMessage") if "thread_ts" not in c.params]
    assert [(c.params["channel"], c.status) for c in top if c.params["channel"] == "C1"] == [
        ("C1", 429),
        ("C1", 200),
    ]
    one_post_and_one_thread_each(fake_slack, ["C1", "C2"])


async def test_serve_answers_healthz_while_the_catch_up_is_stuck(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    now = datetime.now(UTC)
    # Due an hour ago (within the catch-up window): posted by serve's start-up catch-up.
    await subscribe_channels(db, ["slack:T1:C1", "slack:T1:C2"], now - timedelta(days=8))
    due = await _due_of(db, "slack:T1:C1")
    assert due < now
    stuck = fake_slack.stall("chat.postMessage", in_channel("C1"))  # C1's post never answers
    env = slack_env(fake_slack, db) | {
        "ROADMAP_HTTP_HOST": "127.0.0.1",
        "ROADMAP_HTTP_PORT": "0",
        "ROADMAP_CATCHUP_HOURS": str(24 * 9),
    }
    serve = await start(tmp_path, env, "serve")
    try:
        port = await _port(serve)
        await fake_slack.wait_for("chat.postMessage", where=_to("C1"), timeout=30)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as health,
        ):
            assert health.status == 200  # serving while the catch-up waits on Slack
        # C2 is not held up behind C1's unanswered post
        await fake_slack.wait_for(
            "chat.postMessage", where=lambda c: _to("C2")(c) and "thread_ts" in c.params
        )
        assert len(posts(fake_slack, "C2")) == 1 and posts(fake_slack, "C1") == []
    finally:
        stuck.set()
        serve.process.terminate()
        await asyncio.wait_for(serve.process.communicate(), 30)


def _to(channel: str) -> Callable[[Call], bool]:
    def where(call: Call) -> bool:
        return call.params.get("channel") == channel

    return where


async def _due_of(db: Path, channel: str) -> datetime:
    store = await SqlStore.open(db)
    try:
        sub = await DigestStore(store).subscription(channel)
        assert sub is not None
        return sub.next_due_at
    finally:
        await store.close()


async def _port(run: Run) -> int:
    assert run.process.stderr is not None
    seen: list[str] = []
    while True:
        line = (await asyncio.wait_for(run.process.stderr.readline(), 30)).decode()
        assert line, "serve exited: " + "".join(seen)
        seen.append(line)
        found = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        if found:
            return int(found.group(1))


# -- 3. an ambiguous answer is looked up, never blindly retried -----------------------------------


@pytest.mark.parametrize("error", ["internal_error", "fatal_error"])
async def test_an_ambiguous_error_after_the_post_is_checked_not_reposted(
    store: SqlStore, deliverer: Deliverer, fake_slack: FakeSlack, clock: FixedClock, error: str
) -> None:
    clock.set(DUE)
    await subscribe_channels(Path(store.path), ["slack:T1:C1"], CREATED)
    fake_slack.ambiguous["chat.postMessage"] = [error]  # posted, then "may have succeeded"
    summary = await deliverer.run_due(DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"
    one_post_and_one_thread_each(fake_slack, ["C1"])
    [lookup] = fake_slack.calls_to("conversations.history")
    assert lookup.params["include_all_metadata"] in ("true", "1", True)


async def test_an_ambiguous_error_on_the_thread_reply_is_checked_too(
    store: SqlStore, deliverer: Deliverer, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    clock.set(DUE)
    await subscribe_channels(Path(store.path), ["slack:T1:C1"], CREATED)
    fake_slack.ambiguous["chat.postMessage"] = []
    real = fake_slack._m_chat_postMessage

    def reply_then_fail(params: dict[str, object]) -> dict[str, object]:
        answer = real(params)
        if "thread_ts" in params:  # the reply is made, the answer says internal_error
            fake_slack._m_chat_postMessage = real  # type: ignore[method-assign]
            return {"ok": False, "error": "internal_error"}
        return answer

    fake_slack._m_chat_postMessage = reply_then_fail  # type: ignore[method-assign]
    summary = await deliverer.run_due(DUE)
    assert summary.delivered == 1
    one_post_and_one_thread_each(fake_slack, ["C1"])
    assert len(fake_slack.calls_to("conversations.replies")) == 1


# -- 4. kill -9 mid-run: nothing lost, nothing twice, nothing silent -------------------------------


CHANNELS = ["C1", "C2", "C3", "C4"]


async def _killed_mid_run(fake: FakeSlack, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A run-due killed while Slack has C1's and C2's posts (answers not back yet) and
    has not carried out C3's and C4's."""
    db = tmp_path / "bot.db"
    await subscribe_channels(db, [f"slack:T1:{c}" for c in CHANNELS], CREATED)
    fake.now = DUE.timestamp
    gates = [
        fake.stall("chat.postMessage", in_channel(c, thread=False), carry_out=c in ("C1", "C2"))
        for c in CHANNELS
    ]
    env = slack_env(fake, db)
    worker = await run_due(tmp_path, env, DUE)
    await fake.wait_for("chat.postMessage", count=4, timeout=30)
    await worker.kill()
    for gate in gates:
        gate.set()
    fake._stalls.clear()
    return db, env


async def test_a_killed_run_is_in_progress_then_finished_once(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db, env = await _killed_mid_run(fake_slack, tmp_path)
    soon = await run_due(tmp_path, env, DUE + timedelta(minutes=1))
    code, out, err = await soon.finish()
    assert code == 0, err
    # not "already delivered": nothing was recorded, and the leases are still live
    assert out.strip() == "delivered 0, already delivered 0, failed 0, in progress 4"
    later = await run_due(tmp_path, env, DUE + timedelta(minutes=10))
    code, out, err = await later.finish()
    assert code == 0, err
    assert out.strip() == "delivered 4, already delivered 0, failed 0"
    one_post_and_one_thread_each(fake_slack, CHANNELS)
    rows = await sent_rows(db)
    assert {r[0] for r in rows.values()} == {DeliveryState.SENT}


async def test_a_killed_run_found_after_the_window_ends_sent_or_missed_with_the_reason(
    fake_slack: FakeSlack, tmp_path: Path, catalog: object
) -> None:
    db, env = await _killed_mid_run(fake_slack, tmp_path)
    # Found only a day and more later: the catch-up window (24 h) has moved on.
    late = await run_due(tmp_path, env, DUE + timedelta(hours=25))
    code, out, err = await late.finish()
    assert code == 0, err
    assert out.strip() == "delivered 2, already delivered 0, failed 0, missed 2"
    one_post_and_one_thread_each(fake_slack, ["C1", "C2"])  # what Slack had is recorded
    assert posts(fake_slack, "C3") == posts(fake_slack, "C4") == []  # never posted late
    rows = await sent_rows(db)
    assert rows["slack:T1:C3"][0] is DeliveryState.MISSED
    store = await SqlStore.open(db)
    try:
        from roadmap_bot.learning.catalog import Catalog

        assert isinstance(catalog, Catalog)
        roadmap = Roadmap(catalog, store, FixedClock(DUE + timedelta(hours=25)))
        deliverer = Deliverer(catalog, store, roadmap.clock, {})
        StudyGroups(roadmap, deliverer, default_zone="UTC")
        schedule = await roadmap.ask("schedule", member("slack:T1:C3"))
        last = {f.label: f.value for f in schedule.facts}["Last delivery"]
        assert last == (
            "Mon 30 Nov 2026, 09:00 UTC (UTC+00:00): missed (not posted: the worker sending "
            "it stopped, and it was found after the catch-up window)"
        )
    finally:
        await store.close()
    # and the following week is posted as usual
    again = await run_due(tmp_path, env, DUE + timedelta(days=7))
    code, out, err = await again.finish()
    assert code == 0, err
    assert out.strip().startswith("delivered 4,")


async def test_a_thread_reply_cut_off_by_kill_9_is_posted_by_the_next_run(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    await subscribe_channels(db, ["slack:T1:C1", "slack:T1:C2"], CREATED)
    fake_slack.now = DUE.timestamp
    # C1's reply is never made; C2's is made but its answer never comes back.
    cut = fake_slack.stall("chat.postMessage", in_channel("C1", thread=True))
    lost = fake_slack.stall("chat.postMessage", in_channel("C2", thread=True), carry_out=True)
    env = slack_env(fake_slack, db)
    worker = await run_due(tmp_path, env, DUE)
    await fake_slack.wait_for(
        "chat.postMessage", count=2, where=lambda c: "thread_ts" in c.params, timeout=30
    )
    await worker.kill()
    cut.set()
    lost.set()
    fake_slack._stalls.clear()
    assert [len(replies(fake_slack, c)) for c in ("C1", "C2")] == [0, 1]
    rows = await sent_rows(db)
    assert rows["slack:T1:C1"] == (DeliveryState.SENT, None, "pending")
    rerun = await run_due(tmp_path, env, DUE + timedelta(minutes=10))
    code, out, err = await rerun.finish()
    assert code == 0, err
    assert out.strip() == "delivered 0, already delivered 2, failed 0"  # the posts were out
    one_post_and_one_thread_each(fake_slack, ["C1", "C2"])
    rows = await sent_rows(db)
    assert {c: r[2] for c, r in rows.items()} == {"slack:T1:C1": None, "slack:T1:C2": None}
