"""Every Discord channel type a digest can live in: where no thread opens on the weekly
post (a thread, a forum post, a voice or stage channel's chat), the prompts are a reply
to it, exactly once, after a crash too; a forum channel itself is refused with the reason."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from test_discord_digests import FIRST_DUE, channel_key, digests_in, subscribe
from test_discord_digests import bot as bot  # the fixtures, wired as there
from test_discord_digests import deliverer as deliverer
from test_discord_digests import groups as groups
from test_discord_digests import poster as poster
from test_discord_digests import sleeps as sleeps

from fakes.discord_people import BOB, MODERATOR
from fakes.discord_server import (
    ANNOUNCEMENT_THREAD,
    GUILD_ANNOUNCEMENT,
    GUILD_FORUM,
    GUILD_STAGE_VOICE,
    GUILD_VOICE,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    FakeChannel,
    FakeDiscord,
)
from roadmap_bot.adapters.discord.client import RoadmapClient
from roadmap_bot.adapters.discord.poster import DiscordPoster
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer


def where(fake: FakeDiscord, kind: str) -> FakeChannel:
    """A channel of that kind in the fake's guild (a thread's parent made as needed)."""
    guild = fake.guild
    if kind == "public thread":
        return guild.add_channel("chat about it", PUBLIC_THREAD, guild.channel)
    if kind == "private thread":
        return guild.add_channel("just us", PRIVATE_THREAD, guild.channel)
    if kind == "announcement thread":
        news = guild.add_channel("news", GUILD_ANNOUNCEMENT)
        return guild.add_channel("news chat", ANNOUNCEMENT_THREAD, news)
    if kind == "forum post":
        forum = guild.add_channel("questions", GUILD_FORUM)
        return guild.add_channel("How does Redis persist?", PUBLIC_THREAD, forum)
    if kind == "voice chat":
        return guild.add_channel("Lounge", GUILD_VOICE)
    if kind == "stage chat":
        return guild.add_channel("Town hall", GUILD_STAGE_VOICE)
    raise AssertionError(kind)


THREADLESS = [
    "public thread",
    "private thread",
    "announcement thread",
    "forum post",
    "voice chat",
    "stage chat",
]


def replies_to(fake: FakeDiscord, channel: FakeChannel, message_id: str) -> list[dict[str, object]]:
    return [
        m
        for m in fake.posts_in(channel.id)
        if (m.get("message_reference") or {}).get("message_id") == message_id  # type: ignore[union-attr]
    ]


@pytest.mark.parametrize("kind", THREADLESS)
async def test_where_no_thread_opens_the_prompts_are_a_reply_to_the_digest(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer, kind: str
) -> None:
    channel = where(fake, kind)
    shown = await subscribe(fake, {"target": "web-development"}, channel=channel)
    assert shown.title.startswith("This channel now gets Web Development"), shown.text
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"

    (post,) = [p for p in digests_in(fake, channel) if p.title.startswith("Project of the week")]
    assert post.title == "Project of the week: React"
    assert post.message is not None
    (prompts,) = replies_to(fake, channel, post.message["id"])
    assert prompts["embeds"][0]["title"] == "Discussion: React"  # type: ignore[index]
    assert fake.threads == {}
    (state,) = await deliverer.digests.deliveries(channel_key(fake, channel))
    assert state.error is None  # no 'discussion not posted' where schedule shows problems
    # The post's buttons work there too, answered privately, once.
    click = await fake.click(post, "Done", user=BOB)
    done = await click.answer()
    assert done.ephemeral and done.title == "Marked React as done. Nice work!"
    assert len(click.callbacks) == 1

    # The poster remembers: next week it replies without asking for a thread first.
    await deliverer.run_due(FIRST_DUE + timedelta(days=7))
    assert len(fake.requests_to("POST", rf"/channels/{channel.id}/messages/\d+/threads")) == 1
    assert len([p for p in digests_in(fake, channel) if p.embeds]) == 4  # 2 posts, 2 replies
    assert fake.rejected == [] and fake.unhandled == []


async def test_an_announcement_channel_gets_its_thread(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer
) -> None:
    news = fake.guild.add_channel("news", GUILD_ANNOUNCEMENT)
    await subscribe(fake, {"target": "beginner"}, channel=news)
    assert (await deliverer.run_due(FIRST_DUE)).delivered == 1
    (post,) = digests_in(fake, news)
    assert post.message is not None
    thread = fake.threads[int(post.message["id"])]
    assert thread["type"] == ANNOUNCEMENT_THREAD
    assert [m["embeds"][0]["title"] for m in fake.posts_in(int(thread["id"]))] == [
        "Discussion: fzf"
    ]


@pytest.mark.parametrize("kind", ["forum post", "voice chat"])
async def test_a_crash_after_the_reply_is_found_not_replied_again(
    fake: FakeDiscord,
    bot: RoadmapClient,
    deliverer: Deliverer,
    poster: DiscordPoster,
    clock: FixedClock,
    kind: str,
) -> None:
    channel = where(fake, kind)
    await subscribe(fake, {"target": "beginner"}, channel=channel)
    clock.set(FIRST_DUE)
    real_discussion = poster.post_discussion

    async def reply_then_crash(*args: object) -> None:
        await real_discussion(*args)  # type: ignore[arg-type]
        raise asyncio.CancelledError  # the process dies before the ledger hears of it

    poster.post_discussion = reply_then_crash  # type: ignore[method-assign]
    crashed = await deliverer.run_due(FIRST_DUE)
    assert crashed.in_progress == 1
    poster.post_discussion = real_discussion  # type: ignore[method-assign]
    poster._threadless.clear()  # a new process knows nothing of the channel
    for _ in range(150):  # the channel talks on; the reply is not on the first page
        fake._message(channel.id, {"content": "chatter"})
    fake.forget_nonces()  # long after Discord's nonce window
    clock.set(FIRST_DUE + timedelta(minutes=15))
    recovered = await deliverer.run_due(FIRST_DUE + timedelta(minutes=15))
    assert recovered.line() == "delivered 0, already delivered 1, failed 0"

    (post,) = [p for p in digests_in(fake, channel) if p.embeds and "week" in p.title]
    assert post.message is not None
    assert len(replies_to(fake, channel, post.message["id"])) == 1
    (state,) = await deliverer.digests.deliveries(channel_key(fake, channel))
    assert state.discussion is None  # the ledger owes nothing more


async def test_a_crash_before_the_reply_posts_it_once(
    fake: FakeDiscord,
    bot: RoadmapClient,
    deliverer: Deliverer,
    poster: DiscordPoster,
    clock: FixedClock,
) -> None:
    channel = where(fake, "forum post")
    await subscribe(fake, {"target": "beginner"}, channel=channel)
    clock.set(FIRST_DUE)
    real_discussion = poster.post_discussion

    async def crash(*args: object) -> None:
        raise asyncio.CancelledError  # dies after the post, before the prompts

    poster.post_discussion = crash  # type: ignore[method-assign]
    assert (await deliverer.run_due(FIRST_DUE)).in_progress == 1
    poster.post_discussion = real_discussion  # type: ignore[method-assign]
    clock.set(FIRST_DUE + timedelta(minutes=15))
    await deliverer.run_due(FIRST_DUE + timedelta(minutes=15))
    (post,) = [p for p in digests_in(fake, channel) if p.embeds and "week" in p.title]
    assert post.message is not None
    assert len(replies_to(fake, channel, post.message["id"])) == 1


async def test_a_forum_channel_itself_is_refused_with_the_reason(
    fake: FakeDiscord, bot: RoadmapClient, deliverer: Deliverer
) -> None:
    forum = fake.guild.add_channel("questions", GUILD_FORUM)
    sent = await fake.slash("subscribe", {"target": "beginner"}, user=MODERATOR, channel=forum)
    shown = await sent.answer()
    assert shown.ephemeral
    assert shown.title == "A forum channel holds no messages, so it cannot get the weekly digest."
    assert "text channel" in shown.text and "inside one of its posts" in shown.text
    assert len(sent.callbacks) == 1
    assert await deliverer.digests.subscription(channel_key(fake, forum)) is None
