"""Study groups on Discord: /roadmap subscribe and friends, and the weekly post through the fake.

The real discord.py client answers the slash commands and buttons over the fake gateway;
the digest goes out through the REST-only poster, as `roadmap-bot digest run-due` sends it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakes.discord_people import ALICE, BOB, MODERATOR
from fakes.discord_server import CHANNEL_MESSAGE, FakeChannel, FakeDiscord, Shown
from roadmap_bot.adapters.discord.client import RoadmapClient
from roadmap_bot.adapters.discord.embeds import escape
from roadmap_bot.adapters.discord.poster import DiscordPoster, nonce_for, open_poster
from roadmap_bot.app import open_app
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import Reply
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import ConfigError, Settings, load_settings
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.group_view import GroupView
from roadmap_bot.groups.page_links import PageLinks
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.reports import command as report_command
from roadmap_bot.reports.service import Reports
from roadmap_bot.serve import serve
from roadmap_bot.store.groups import GroupStore
from roadmap_bot.store.reports import ReportCache
from roadmap_bot.store.sql import SqlStore

StartBot = Callable[..., Any]

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the Monday after NOW, 09:00 UTC


class Sleeps:
    """The deliverer's injected sleep: records delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def report_url(fake: FakeDiscord) -> str:
    """Reports from the fake (it has none): digests never fetch from the internet."""
    return f"http://127.0.0.1:{fake.port}/oss/{{name}}.md"


def settings_for(fake: FakeDiscord, **more: str) -> Settings:
    values = {
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_URL": fake.api_url,
        "ROADMAP_REPORT_URL": report_url(fake),
        "ROADMAP_HTTP_HOST": "127.0.0.1",
        "ROADMAP_HTTP_PORT": "0",  # /healthz and /metrics on any free port
    }
    return load_settings(**{"ROADMAP_DB": ":memory:", **values, **more})


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def poster(fake: FakeDiscord, clock: FixedClock) -> AsyncIterator[DiscordPoster]:
    fake.clock = clock.now  # message ids and timestamps follow the test's time
    async with open_poster(settings_for(fake)) as opened:
        yield opened


@pytest.fixture
def deliverer(
    roadmap: Roadmap, store: SqlStore, clock: FixedClock, poster: DiscordPoster, sleeps: Sleeps
) -> Deliverer:
    return Deliverer(roadmap.catalog, store, clock, {"discord": poster}, sleep=sleeps)


@pytest.fixture
def groups(roadmap: Roadmap, deliverer: Deliverer) -> StudyGroups:
    return StudyGroups(roadmap, deliverer)


@pytest.fixture
async def bot(start_bot: StartBot, groups: StudyGroups) -> RoadmapClient:
    client: RoadmapClient = await start_bot()
    return client


def channel_key(fake: FakeDiscord, channel: FakeChannel | None = None) -> str:
    return f"discord:{fake.guild.id}:{(channel or fake.guild.channel).id}"


def digests_in(fake: FakeDiscord, channel: FakeChannel) -> list[Shown]:
    """What the channel shows from the bot's REST posts (not interaction answers)."""
    return [Shown(CHANNEL_MESSAGE, m) for m in fake.posts_in(channel.id) if m["type"] in (0, 19)]


async def subscribe(fake: FakeDiscord, options: dict[str, str], **where: Any) -> Shown:
    where.setdefault("user", MODERATOR)
    return await (await fake.slash("subscribe", options, **where)).answer()


# -- the commands -------------------------------------------------------------------------------


async def test_only_members_with_manage_channels_start_change_or_end_a_digest(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    # On Discord bot configuration is for channel managers: even a first subscription
    refused = await subscribe(fake, {"target": "web-development"}, user=ALICE)
    assert refused.ephemeral
    assert (
        refused.title == "You need the Manage Channels permission to start this channel's digest."
    )
    assert "members with the Manage Channels permission" in refused.text
    nothing = await (await fake.slash("schedule", user=ALICE)).answer()
    assert nothing.title == "This channel has no weekly digest."

    started = await subscribe(fake, {"target": "web-development"})
    assert started.title == "This channel now gets Web Development every Monday at 09:00 (UTC)."
    assert "First post: Mon 30 Nov 2026, 09:00 UTC (UTC+00:00), with React." in started.text
    assert started.labels == ["Preview the digest", "Schedule"]

    replaced = await subscribe(fake, {"target": "beginner"}, user=BOB)
    assert replaced.title == (
        "You need the Manage Channels permission to replace this channel's digest."
    )
    for command, options, word in (
        ("unsubscribe", {}, "stop"),
        ("pause", {"until": "2026-12-10"}, "pause"),
        ("skip", {}, "skip a week of"),
        ("resume", {}, "resume"),
    ):
        answer = await (await fake.slash(command, options, user=ALICE)).answer()
        assert answer.title == (
            f"You need the Manage Channels permission to {word} this channel's digest."
        ), command
    paused = await (await fake.slash("pause", {"until": "2026-12-10"}, user=MODERATOR)).answer()
    assert paused.title == "Paused until Thu 10 Dec 2026."
    moved = await subscribe(
        fake,
        {"target": "data-infrastructure", "weekday": "friday", "time": "16:00",
         "timezone": "Europe/Berlin"},
    )  # fmt: skip
    assert moved.title == (
        "This channel now gets Data Infrastructure every Friday at 16:00 (Europe/Berlin)."
    )
    assert "This replaces the subscription to Web Development" in moved.text
    # anyone may read the schedule and preview the digest
    schedule = await (await fake.slash("schedule", user=BOB)).answer()
    assert schedule.title == "Weekly digest: Data Infrastructure"
    assert "Fri 27 Nov 2026, 16:00 CET (UTC+01:00)" in schedule.text
    preview = await (await fake.slash("digest", user=BOB)).answer()
    assert preview.ephemeral and preview.title == "Project of the week: Redis"
    assert fake.rejected == []


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"target": "beginner", "time": "25:00"}, "subscribe beginner at 25:00"),
        ({"target": "beginner", "time": "noon"}, "subscribe beginner at noon"),
        ({"target": "beginner", "timezone": "Europe/Berln"}, "subscribe beginner tz Europe/Berln"),
        ({"target": "begginer"}, "subscribe begginer"),
    ],
)
async def test_bad_options_get_the_same_answer_as_typed_text(
    fake: FakeDiscord,
    bot: RoadmapClient,
    roadmap: Roadmap,
    options: dict[str, str],
    text: str,
) -> None:
    shown = await subscribe(fake, options)
    typed = await roadmap.ask(text, Asker(id="console:x", name="x", channel="console:x"))
    assert not typed.ok
    assert shown.ephemeral and shown.title == escape(typed.title)
    assert escape(typed.text) in shown.text
    assert typed.suggestions and set(typed.suggestions) <= set(shown.labels)


async def test_a_misspelt_zone_offers_the_fix_as_a_button(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    shown = await subscribe(
        fake, {"target": "beginner", "time": "8:30", "timezone": "europe/berln"}
    )
    assert shown.title.startswith("'europe/berln' is not an IANA time zone")
    fixed = await (
        await fake.click(shown, "subscribe beginner at 8:30 tz Europe/Berlin", user=MODERATOR)
    ).answer()
    assert fixed.title == (
        "This channel now gets the beginner level every Monday at 08:30 (Europe/Berlin)."
    )


@pytest.mark.parametrize(
    ("until", "title"),
    [
        ("2026-13-01", "'2026-13-01' is not a date."),
        ("next week", "'pause' needs the date the digests should start again."),
        ("2026-11-01", "Sun 1 Nov 2026 is not in the future."),
    ],
)
async def test_pause_explains_a_bad_date(
    fake: FakeDiscord, bot: RoadmapClient, until: str, title: str
) -> None:
    await subscribe(fake, {"target": "beginner"})
    shown = await (await fake.slash("pause", {"until": until}, user=MODERATOR)).answer()
    assert shown.title == title


async def test_autocomplete_for_targets_zones_and_projects(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    async def choices(subcommand: str, option: str, typed: str) -> list[str]:
        shown = await (await fake.autocomplete(subcommand, option, typed, user=ALICE)).answer()
        assert shown.choices is not None and len(shown.choices) <= 25
        return [c["value"] for c in shown.choices]

    assert await choices("subscribe", "target", "obs") == ["observability-stack"]
    assert await choices("subscribe", "target", "begin") == ["beginner"]
    everything = await choices("subscribe", "target", "")
    assert everything[:3] == ["beginner", "intermediate", "advanced"] and len(everything) == 10
    assert await choices("subscribe", "timezone", "new y") == ["America/New_York"]
    assert (await choices("subscribe", "timezone", "berlin"))[0] == "Europe/Berlin"
    assert "UTC" in await choices("subscribe", "timezone", "")
    assert (await choices("reading", "name", "kafk"))[0] == "kafka"
    assert (await choices("pass", "name", "redi"))[0] == "redis"


async def test_reading_and_pass_mark_the_asker(
    fake: FakeDiscord, bot: RoadmapClient, roadmap: Roadmap
) -> None:
    reading = await (await fake.slash("reading", {"name": "kafka"}, user=ALICE)).answer()
    assert reading.ephemeral and "Kafka" in reading.title
    await (await fake.slash("pass", {"name": "redis"}, user=ALICE)).answer()
    marks = await roadmap.store.progress(f"discord:{fake.guild.id}:{ALICE.id}")
    assert {slug: mark.status.value for slug, mark in marks.items()} == {
        "kafka": "reading",
        "redis": "skipped",
    }


# -- the weekly post -------------------------------------------------------------------------------


async def test_the_weekly_post_its_buttons_and_its_thread(
    fake: FakeDiscord,
    bot: RoadmapClient,
    deliverer: Deliverer,
    roadmap: Roadmap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    await subscribe(fake, {"target": "web-development"})
    assert (await deliverer.run_due(FIRST_DUE - timedelta(seconds=1))).delivered == 0
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"

    (post,) = digests_in(fake, fake.guild.channel)
    assert not post.ephemeral  # the whole channel sees it
    assert post.title == "Project of the week: React"
    assert "Step 1 of 4 in Web Development" in post.text
    assert post.labels == ["Done", "Reading", "Skip for me", "Open report"]
    assert post.embed["footer"]["text"].startswith("Next week: Next.js.")
    assert post.message is not None and post.message["author"]["id"] == str(fake.bot.id)
    sent = fake.requests_to("POST", rf"/channels/{fake.guild.channel.id}/messages")
    assert len(sent) == 1
    assert sent[0].body["enforce_nonce"] is True and len(sent[0].body["nonce"]) <= 25
    assert sent[0].body["allowed_mentions"] == {"parse": []}

    thread = fake.threads[int(post.message["id"])]
    assert thread["name"] == "Discuss: React"
    (prompts,) = [Shown(CHANNEL_MESSAGE, m) for m in fake.posts_in(int(thread["id"]))]
    assert prompts.title == "Discussion: React"
    assert prompts.text.count("\n") >= 3 and "React" in prompts.text

    # Done records progress for whoever clicks, privately
    done = await (await fake.click(post, "Done", user=BOB)).answer()
    assert done.ephemeral and done.title == "Marked React as done. Nice work!"
    assert "react" in await roadmap.store.progress(f"discord:{fake.guild.id}:{BOB.id}")
    assert await roadmap.store.progress(f"discord:{fake.guild.id}:{ALICE.id}") == {}
    reading = await (await fake.click(post, "Reading", user=ALICE)).answer()
    assert reading.ephemeral and "React" in reading.title

    again = await deliverer.run_due(FIRST_DUE + timedelta(minutes=5))
    assert (again.delivered, again.already) == (0, 1)
    await deliverer.run_due(FIRST_DUE + timedelta(days=7))
    _, second = digests_in(fake, fake.guild.channel)
    assert second.title == "Project of the week: Next.js"
    assert "Last week: React\nbob has marked it done." in second.text
    assert fake.rejected == [] and fake.unhandled == []
    assert fake.token not in caplog.text


async def test_a_digest_in_a_dm_gets_its_prompts_as_a_reply(
    fake: FakeDiscord, start_bot: StartBot, groups: StudyGroups, deliverer: Deliverer
) -> None:
    await start_bot(guild_id=None)
    shown = await (
        await fake.slash("subscribe", {"target": "beginner"}, user=BOB, dm=True)
    ).answer()
    assert shown.message is not None
    dm = int(shown.message["channel_id"])
    assert (await deliverer.run_due(FIRST_DUE)).delivered == 1
    post, prompts = [Shown(CHANNEL_MESSAGE, m) for m in fake.posts_in(dm) if m["type"] in (0, 19)]
    assert post.title == "Project of the week: fzf"
    assert prompts.title == "Discussion: fzf"
    assert prompts.message is not None and post.message is not None
    assert prompts.message["message_reference"]["message_id"] == post.message["id"]
    assert fake.threads == {}


async def test_channels_at_the_same_step_each_get_their_own_prompts_post(
    fake: FakeDiscord, start_bot: StartBot, groups: StudyGroups, deliverer: Deliverer
) -> None:
    """The prompts of one step are rendered once for every channel at that step; each
    post still carries its own nonce, and only the DM's is a reply to its digest."""
    await start_bot(guild_id=None)  # /roadmap everywhere: in the server and in DMs
    shown = await (
        await fake.slash("subscribe", {"target": "beginner"}, user=BOB, dm=True)
    ).answer()
    assert shown.message is not None
    dm = int(shown.message["channel_id"])
    await subscribe(fake, {"target": "beginner"})
    assert (await deliverer.run_due(FIRST_DUE)).delivered == 2
    (post,) = digests_in(fake, fake.guild.channel)
    assert post.message is not None
    thread = int(fake.threads[int(post.message["id"])]["id"])
    in_thread = fake.requests_to("POST", rf"/channels/{thread}/messages")
    in_dm = fake.requests_to("POST", rf"/channels/{dm}/messages")
    assert len(in_thread) == 1 and len(in_dm) == 2  # the DM: its digest, then the reply
    to_thread, reply = in_thread[0].body, in_dm[1].body
    assert "message_reference" not in to_thread and "message_reference" in reply
    assert to_thread["embeds"] == reply["embeds"]  # the same prompts
    assert len({to_thread["nonce"], reply["nonce"], in_dm[0].body["nonce"]}) == 3


async def test_a_429_waits_retry_after_through_the_deliverer(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer, sleeps: Sleeps
) -> None:
    await subscribe(fake, {"target": "beginner"})
    channel = fake.guild.channel.id
    fake.fail("POST", rf"/channels/{channel}/messages", 429, retry_after=7.5)
    fake.fail("POST", rf"/channels/{channel}/messages/\d+/threads", 429, retry_after=2.25)
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.delivered == 1
    assert sleeps.delays == [7.5, 2.25]  # what Discord asked for, and no real wait
    (post,) = digests_in(fake, fake.guild.channel)
    assert post.title == "Project of the week: fzf"
    assert len(fake.requests_to("POST", rf"/channels/{channel}/messages")) == 2
    assert len(fake.threads) == 1


async def test_a_server_error_is_retried_with_backoff(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer, sleeps: Sleeps
) -> None:
    await subscribe(fake, {"target": "beginner"})
    fake.fail("POST", rf"/channels/{fake.guild.channel.id}/messages", 503)
    assert (await deliverer.run_due(FIRST_DUE)).delivered == 1
    assert sleeps.delays == [0.5]
    assert len(digests_in(fake, fake.guild.channel)) == 1


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            403,
            None,
            "Discord says Missing Access: the bot cannot see this channel. Add the bot to the "
            "channel (it needs View Channel; in a private thread, @mention the bot to add it).",
        ),
        (
            403,
            {"message": "Missing Permissions", "code": 50013},
            "Discord says Missing Permissions: the bot needs Send Messages, Embed Links and "
            "Create Public Threads in this channel.",
        ),
        (
            404,
            None,
            "Discord says Unknown Channel: the channel was deleted, or the bot was removed "
            "from the server.",
        ),
        (  # a digest in a thread a moderator locked
            400,
            {"message": "Thread is locked", "code": 160005},
            "Discord says the thread is locked: unlock it, or subscribe in a text channel.",
        ),
    ],
)
async def test_a_refusal_pauses_that_channel_only_and_schedule_says_why(
    fake: FakeDiscord,
    bot: RoadmapClient,
    deliverer: Deliverer,
    status: int,
    body: dict[str, Any] | None,
    reason: str,
) -> None:
    fine = fake.guild.channel
    broken = fake.guild.add_channel("broken")
    await subscribe(fake, {"target": "beginner"}, channel=fine)
    await subscribe(fake, {"target": "web-development"}, channel=broken)
    fake.fail("POST", rf"/channels/{broken.id}/messages", status, body=body, times=None)
    summary = await deliverer.run_due(FIRST_DUE)
    assert (summary.delivered, summary.failed) == (1, 1)
    assert summary.problems == [f"{channel_key(fake, broken)}: {reason}"]
    assert [p.title for p in digests_in(fake, fine)] == ["Project of the week: fzf"]
    assert len(fake.requests_to("POST", rf"/channels/{broken.id}/messages")) == 1  # no retries

    schedule = await (await fake.slash("schedule", user=BOB, channel=broken)).answer()
    assert f"Delivery problem\n{reason} 'resume' tries again once it is fixed." in schedule.text
    # paused: later runs leave it alone, the other channel goes on
    later = await deliverer.run_due(FIRST_DUE + timedelta(days=7))
    assert later.delivered == 1 and later.failed == 0
    assert len(fake.requests_to("POST", rf"/channels/{broken.id}/messages")) == 1
    # fixed on Discord's side, a manager resumes it
    fake.scripts.clear()
    resumed = await (await fake.slash("resume", user=MODERATOR, channel=broken)).answer()
    assert resumed.title == "Resumed."
    await deliverer.run_due(FIRST_DUE + timedelta(days=7, minutes=5))
    assert [p.title for p in digests_in(fake, broken)] == ["Project of the week: React"]


# -- exactly once ------------------------------------------------------------------------------


async def test_a_crash_between_post_and_record_is_found_not_posted_again(
    fake: FakeDiscord,
    bot: RoadmapClient,
    deliverer: Deliverer,
    poster: DiscordPoster,
    clock: FixedClock,
) -> None:
    await subscribe(fake, {"target": "beginner"})
    channel = fake.guild.channel
    clock.set(FIRST_DUE)
    for _ in range(120):  # a busy channel: the post is not on the first page of history
        fake._message(channel.id, {"content": "chatter"})
    real_post = poster.post

    async def post_then_crash(channel: str, message: Reply, delivery_id: str) -> str:
        await real_post(channel, message, delivery_id)
        raise asyncio.CancelledError  # the process dies before recording it

    poster.post = post_then_crash  # type: ignore[method-assign]
    crashed = await deliverer.run_due(FIRST_DUE)
    assert crashed.in_progress == 1  # the claim stays with its (dead) worker until it expires
    poster.post = real_post  # type: ignore[method-assign]
    # a hundred more messages, and long enough that Discord forgot the nonce
    for _ in range(100):
        fake._message(channel.id, {"content": "more chatter"})
    fake.forget_nonces()
    clock.set(FIRST_DUE + timedelta(minutes=15))
    recovered = await deliverer.run_due(FIRST_DUE + timedelta(minutes=15))
    assert recovered.delivered == 1
    (post,) = [p for p in digests_in(fake, channel) if p.embeds]
    assert post.title == "Project of the week: fzf"
    assert len(fake.requests_to("POST", rf"/channels/{channel.id}/messages")) == 1
    assert len(fake.requests_to("GET", rf"/channels/{channel.id}/messages")) >= 2  # paged
    assert post.message is not None
    assert int(post.message["id"]) in fake.threads  # the prompts still follow
    delivery = (await deliverer.digests.deliveries(channel_key(fake)))[0]
    assert delivery.message_id == post.message["id"]


async def test_a_lost_answer_with_unreadable_history_is_deduplicated_by_the_nonce(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer, sleeps: Sleeps
) -> None:
    await subscribe(fake, {"target": "beginner"})
    channel = fake.guild.channel.id
    messages = rf"/channels/{channel}/messages"
    fake.script("POST", messages, drop=True)  # posted, but the answer never arrives
    fake.fail("GET", messages, 403, times=None)  # and the bot may not read history
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.delivered == 1
    posts = fake.requests_to("POST", messages)
    assert len(posts) == 2 and sleeps.delays == [0.5]
    assert posts[0].body["nonce"] == posts[1].body["nonce"]
    (post,) = digests_in(fake, fake.guild.channel)
    delivery = (await deliverer.digests.deliveries(channel_key(fake)))[0]
    assert post.message is not None and delivery.message_id == post.message["id"]


def test_nonces_are_deterministic_short_and_distinct() -> None:
    nonces = {nonce_for(f"{sub}-2026-11-30", part) for sub in (1, 12) for part in ("post", "x")}
    assert len(nonces) == 4
    assert all(len(n) <= 25 for n in nonces)
    assert nonce_for("12-2026-11-30") == nonce_for("12-2026-11-30")
    assert len(nonce_for("9" * 40 + "-2026-11-30")) <= 25


# -- running it ----------------------------------------------------------------------------------


async def test_serve_registers_the_discord_poster(
    fake: FakeDiscord, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    settings = settings_for(
        fake,
        DISCORD_GUILD_ID=str(fake.guild.id),
        DISCORD_GATEWAY_URL=fake.gateway_url,
        ROADMAP_DB=str(db_path),
    )
    async with open_app(settings) as app:
        task = asyncio.create_task(serve(app))
        await fake.wait_identified()
        assert isinstance(app.deliverer.posters["discord"], DiscordPoster)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert "discord" not in app.deliverer.posters  # closed with serve


async def test_run_due_posts_to_discord_without_a_gateway(
    fake: FakeDiscord, db_path: Path, roadmap: Roadmap, groups: StudyGroups, clock: FixedClock
) -> None:
    fake.clock = clock.now
    asker = Asker(id=f"discord:{fake.guild.id}:{ALICE.id}", name="alice", channel=channel_key(fake))
    assert (await roadmap.ask("subscribe web-development", asker)).ok
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ROADMAP_DB": str(db_path),
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_URL": fake.api_url,
        "ROADMAP_REPORT_URL": report_url(fake),
    }
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roadmap_bot",
        "digest",
        "run-due",
        "--now",
        FIRST_DUE.isoformat(),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=db_path.parent,
    )
    out, err = await asyncio.wait_for(done.communicate(), 30)
    assert done.returncode == 0, err.decode()
    assert out.decode().strip() == "delivered 1, already delivered 0, failed 0"
    assert [p.title for p in digests_in(fake, fake.guild.channel)] == ["Project of the week: React"]
    assert fake.identifies == []  # REST only
    assert fake.token not in out.decode() + err.decode()


async def test_prompts_that_failed_after_the_thread_opened_go_into_that_thread(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer, sleeps: Sleeps
) -> None:
    await subscribe(fake, {"target": "beginner"})
    channel = fake.guild.channel.id
    fake.fail("POST", rf"/channels/(?!{channel}/)\d+/messages", 503)  # inside the thread
    assert (await deliverer.run_due(FIRST_DUE)).delivered == 1
    (thread_id,) = fake.threads
    (prompts,) = [Shown(CHANNEL_MESSAGE, m) for m in fake.posts_in(thread_id)]
    assert prompts.title == "Discussion: fzf"
    assert len(fake.requests_to("POST", rf"/channels/{channel}/messages/\d+/threads")) == 2
    assert sleeps.delays == [0.5]


async def test_lost_answers_while_opening_the_thread_post_the_prompts_once(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer, sleeps: Sleeps
) -> None:
    await subscribe(fake, {"target": "beginner"})
    channel = fake.guild.channel.id
    fake.script("POST", rf"/channels/{channel}/messages/\d+/threads", drop=True)
    fake.script("POST", rf"/channels/(?!{channel}/)\d+/messages", drop=True)
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"
    (thread_id,) = fake.threads
    assert [Shown(CHANNEL_MESSAGE, m).title for m in fake.posts_in(thread_id)] == [
        "Discussion: fzf"
    ]
    assert len(sleeps.delays) == 2  # each lost answer was retried once


async def test_a_poster_that_cannot_log_in_says_why(fake: FakeDiscord) -> None:
    with pytest.raises(ConfigError) as rejected:
        async with open_poster(settings_for(fake, DISCORD_TOKEN="not-the-token")):
            pass
    assert "DISCORD_TOKEN was rejected" in str(rejected.value)
    assert "not-the-token" not in str(rejected.value)
    fake.fail("GET", r"/users/@me", 503, body={"message": "Service Unavailable", "code": 0})
    with pytest.raises(ConfigError) as unreachable:
        async with open_poster(settings_for(fake)):
            pass
    assert str(unreachable.value).startswith(
        f"could not log in to Discord's API at {fake.api_url} (DiscordServerError: 503"
    )
    assert fake.token not in str(unreachable.value)


async def test_report_outlines_have_their_subcommand_too(
    fake: FakeDiscord, bot: RoadmapClient, roadmap: Roadmap, store: SqlStore, clock: FixedClock
) -> None:
    async with aiohttp.ClientSession() as session:
        reports = Reports(ReportCache(store), clock, lambda: session, report_url(fake))
        report_command.install(roadmap, reports)
        names = await (await fake.autocomplete("report", "name", "kafk", user=ALICE)).answer()
        assert names.choices is not None and names.choices[0]["value"] == "kafka"
        shown = await (await fake.slash("report", {"name": "kafka"}, user=ALICE)).answer()
        await reports.aclose()
    assert shown.ephemeral and shown.title == "Apache Kafka: architecture report"
    assert shown.labels[:2] == ["Open report", "Reading it"]
    assert "Key Design Decisions" in shown.text


@pytest.fixture
def view(roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, store: SqlStore) -> GroupView:
    """The group view on the same core, wired as the app wires it."""
    links = PageLinks(GroupStore(store), roadmap.clock, "https://bot.example.org")
    found = GroupView(roadmap, groups, links)
    deliverer.news = found.news
    return found


async def test_group_as_an_embed_and_dashboard_to_the_asker_only(
    fake: FakeDiscord, view: GroupView, bot: RoadmapClient, deliverer: Deliverer
) -> None:
    await (await fake.slash("subscribe", {"target": "web-development"}, user=MODERATOR)).answer()
    assert (await deliverer.run_due(FIRST_DUE)).delivered == 1
    (post,) = digests_in(fake, fake.guild.channel)
    assert "Study-group page" in post.text  # each weekly post links the page
    await (await fake.click(post, "Reading", user=BOB)).answer()  # a button makes a member

    shown = await (await fake.slash("group", user=ALICE)).answer()
    assert shown.ephemeral and shown.title == "Study group: Web Development"
    description = shown.embed["description"]
    assert description.count("```") == 2
    assert "on pace" in description and "…" in description  # BOB is reading step 1
    assert "✓ done" in description  # the legend

    link = await (await fake.slash("dashboard", user=ALICE)).answer()
    assert link.ephemeral and "https://bot.example.org/groups/" in link.text
    refused = await (await fake.slash("dashboard", {"reset": True}, user=ALICE)).answer()
    assert refused.ephemeral and "reset the page link" in refused.title
    reset = await (await fake.slash("dashboard", {"reset": True}, user=MODERATOR)).answer()
    assert reset.title == "The study-group page has a new link."
