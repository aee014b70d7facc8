"""Issue 10's failures 1-4 on Discord, through discord.py's REST client against the fake
Discord: real `digest run-due` processes for two workers and kill -9, the deliverer
in-process otherwise. Zero duplicate and zero lost posts each time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fakes.discord_server import FakeChannel, FakeDiscord
from fakes.runs import clean_env, run_due, subscribe_channels
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.discord.poster import DiscordPoster, open_poster
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import Settings, load_settings
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.store.sql import SqlStore

CREATED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def key(fake: FakeDiscord, channel: FakeChannel) -> str:
    return f"discord:{fake.guild.id}:{channel.id}"


def digests(fake: FakeDiscord, channel: FakeChannel) -> list[dict[str, object]]:
    return [m for m in fake.posts_in(channel.id) if m["embeds"]]


def one_digest_and_one_thread_each(fake: FakeDiscord, channels: list[FakeChannel]) -> None:
    for channel in channels:
        posted = digests(fake, channel)
        assert len(posted) == 1, f"{channel.name}: {len(posted)} digests"
        prompts = fake.posts_in(int(str(posted[0]["id"])))  # the thread has the post's id
        assert len(prompts) == 1, f"{channel.name}: {len(prompts)} prompts in the thread"


def report_url(fake: FakeDiscord) -> str:
    return f"http://127.0.0.1:{fake.port}/oss/{{name}}.md"


def settings_for(fake: FakeDiscord) -> Settings:
    return load_settings(
        ROADMAP_DB=":memory:",
        DISCORD_TOKEN=fake.token,
        DISCORD_API_URL=fake.api_url,
        ROADMAP_REPORT_URL=report_url(fake),
    )


def discord_env(fake: FakeDiscord, db: Path) -> dict[str, str]:
    return clean_env(
        ROADMAP_DB=str(db),
        DISCORD_TOKEN=fake.token,
        DISCORD_API_URL=fake.api_url,
        ROADMAP_REPORT_URL=report_url(fake),
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def poster(fake: FakeDiscord, clock: FixedClock) -> AsyncIterator[DiscordPoster]:
    fake.clock = clock.now
    async with open_poster(settings_for(fake)) as opened:
        yield opened


@pytest.fixture
def deliverer(
    roadmap: Roadmap, store: SqlStore, clock: FixedClock, poster: DiscordPoster, sleeps: Sleeps
) -> Deliverer:
    clock.set(DUE)
    return Deliverer(roadmap.catalog, store, clock, {"discord": poster}, sleep=sleeps)


# -- 2. a bucket's Retry-After over the cap: rescheduled, the others post ------------------------


async def test_a_long_retry_after_in_one_bucket_reschedules_only_that_channel(
    fake: FakeDiscord, store: SqlStore, deliverer: Deliverer, sleeps: Sleeps
) -> None:
    slow, fine = fake.guild.channel, fake.guild.add_channel("fine")
    await subscribe_channels(Path(store.path), [key(fake, slow), key(fake, fine)], CREATED)
    fake.fail("POST", rf"/channels/{slow.id}/messages", 429, retry_after=3600)
    summary = await deliverer.run_due(DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0, rescheduled 1"
    assert 3600 not in sleeps.delays
    assert digests(fake, slow) == [] and len(digests(fake, fine)) == 1
    later = await deliverer.run_due(DUE + timedelta(hours=1, minutes=1))
    assert later.delivered == 1
    one_digest_and_one_thread_each(fake, [slow, fine])


# -- 3. a 5xx after the post took effect: never a second post -----------------------------------


async def test_a_server_error_after_the_post_does_not_post_twice(
    fake: FakeDiscord, store: SqlStore, deliverer: Deliverer
) -> None:
    # discord.py repeats a request that got a 500 at once, inside its own client: the
    # nonce (enforce_nonce) makes Discord answer that repeat with the first message.
    # Once discord.py gives up, the deliverer looks up the post by its footer reference
    # (the kill -9 test below) before any retry of its own.
    channel = fake.guild.channel
    await subscribe_channels(Path(store.path), [key(fake, channel)], CREATED)
    fake.fail("POST", rf"/channels/{channel.id}/messages", 500, after=True)
    summary = await deliverer.run_due(DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"
    one_digest_and_one_thread_each(fake, [channel])


# -- 1 and 4. two workers, kill -9: real processes ---------------------------------------------


async def test_two_run_due_workers_and_a_429_post_once(fake: FakeDiscord, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    channel = fake.guild.channel
    await subscribe_channels(db, [key(fake, channel)], CREATED)
    fake.clock = lambda: DUE
    fake.nonce_window = 0.0  # no help from Discord's nonce: the lease alone must do it
    # The first worker's 429 is held until the second worker is done: a busy machine may
    # take seconds to start the second process, and the first must not get ahead of it.
    answered = asyncio.Event()
    fake.fail("POST", rf"/channels/{channel.id}/messages", 429, retry_after=5, until=answered)
    env = discord_env(fake, db)
    first = await run_due(tmp_path, env, DUE)
    await _until(lambda: bool(fake.requests_to("POST", rf"/channels/{channel.id}/messages")))
    # Eleven minutes later by the schedule's clock: the first one's lease has expired.
    second = await run_due(tmp_path, env, DUE + timedelta(minutes=11))
    code, out, err = await second.finish()
    assert (code, out.strip()) == (0, "delivered 1, already delivered 0, failed 0"), err
    answered.set()  # the first worker hears its 429, finds its lease gone, does not post
    code, out, err = await first.finish()
    assert (code, out.strip()) == (
        0,
        "delivered 0, already delivered 0, failed 0, in progress 1",
    ), err
    assert "taken over: not posting" in err
    one_digest_and_one_thread_each(fake, [channel])


async def test_kill_9_mid_run_then_a_rerun_posts_each_once(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    db = tmp_path / "bot.db"
    posted, unposted = fake.guild.channel, fake.guild.add_channel("second")
    await subscribe_channels(db, [key(fake, posted), key(fake, unposted)], CREATED)
    fake.clock = lambda: DUE
    fake.nonce_window = 0.0
    # The first channel's post is made, its answer held; the second's never made.
    fake.script("POST", rf"/channels/{posted.id}/messages", delay=120, after=True)
    fake.script("POST", rf"/channels/{unposted.id}/messages", delay=120)
    env = discord_env(fake, db)
    worker = await run_due(tmp_path, env, DUE)
    await _until(lambda: len([r for r in fake.requests if r.method == "POST"]) >= 2)
    await worker.kill()
    fake.scripts.clear()
    rerun = await run_due(tmp_path, env, DUE + timedelta(minutes=10))
    code, out, err = await rerun.finish()
    assert (code, out.strip()) == (0, "delivered 2, already delivered 0, failed 0"), err
    one_digest_and_one_thread_each(fake, [posted, unposted])


async def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.05)
