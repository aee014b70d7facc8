"""The fake Discord's knobs, driven by the real discord.py: what later features rely on.

Channel posts with nonce + enforce_nonce, threads on messages, scripted 429/403/404,
latency, Discord's own message limits, and a dropped gateway connection.
"""

from __future__ import annotations

import time

import discord
import pytest

from fakes.discord_people import ALICE
from fakes.discord_server import FakeDiscord
from roadmap_bot.adapters.discord.client import RoadmapClient

MESSAGES = r"/channels/\d+/messages"


def channel(bot: RoadmapClient, fake: FakeDiscord) -> discord.PartialMessageable:
    return bot.get_partial_messageable(fake.guild.channel.id)


async def test_a_429_is_retried_after_retry_after(fake: FakeDiscord, bot: RoadmapClient) -> None:
    fake.fail("POST", MESSAGES, 429, retry_after=0.01)
    message = await channel(bot, fake).send("weekly digest")
    assert len(fake.requests_to("POST", MESSAGES)) == 2
    assert [m["content"] for m in fake.messages.values()] == ["weekly digest"]
    assert message.id in fake.messages


@pytest.mark.parametrize(
    ("status", "error", "code"), [(403, discord.Forbidden, 50001), (404, discord.NotFound, 10003)]
)
async def test_scripted_errors_reach_the_caller(
    fake: FakeDiscord, bot: RoadmapClient, status: int, error: type[Exception], code: int
) -> None:
    fake.fail("POST", MESSAGES, status)
    with pytest.raises(error) as caught:
        await channel(bot, fake).send("digest")
    assert caught.value.code == code  # type: ignore[attr-defined]
    await channel(bot, fake).send("digest")  # times=1: the next one goes through
    assert len(fake.messages) == 1


async def test_a_repeated_nonce_returns_the_first_message(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    first = await channel(bot, fake).send("digest", nonce="sub-1:2026-W48")
    again = await channel(bot, fake).send("digest", nonce="sub-1:2026-W48")
    assert again.id == first.id
    assert len(fake.messages) == 1
    assert fake.requests_to("POST", MESSAGES)[0].body["enforce_nonce"] is True


async def test_a_thread_opens_on_a_message_once(fake: FakeDiscord, bot: RoadmapClient) -> None:
    text_channel = bot.get_channel(fake.guild.channel.id)  # cached from GUILD_CREATE
    assert isinstance(text_channel, discord.TextChannel)
    message = await text_channel.send("digest")
    full = await text_channel.fetch_message(message.id)
    thread = await full.create_thread(name="Discuss: Redis")
    assert thread.id == message.id and thread.name == "Discuss: Redis"
    assert fake.threads[message.id]["parent_id"] == str(fake.guild.channel.id)
    with pytest.raises(discord.HTTPException) as caught:
        await full.create_thread(name="again")
    assert caught.value.code == 160004


async def test_over_limit_messages_are_refused_like_discord_does(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await channel(bot, fake).send(embed=discord.Embed(title="x" * 257))
    assert caught.value.status == 400 and caught.value.code == 50035
    assert fake.rejected[0][1] == ["embeds[0].title: longer than 256"]


async def test_latency_delays_answers(fake: FakeDiscord, bot: RoadmapClient) -> None:
    fake.latency = 0.02
    started = time.perf_counter()
    await channel(bot, fake).send("slow")
    assert time.perf_counter() - started >= 0.02


async def test_the_bot_resumes_after_the_gateway_drops(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    await fake.drop_connection(4000)
    await fake.wait_resumed()
    shown = await (await fake.slash("next", {}, user=ALICE)).answer()
    assert shown.title == "Read next: fzf"
    assert len(fake.identifies) == 1  # resumed, not a new session
