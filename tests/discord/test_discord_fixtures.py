"""Interactions as Discord documents them (our own JSON files in fixtures/: guilds, DMs,
threads, forum posts, voice and stage chats, members without permissions), sent through
the fake Discord to a real `roadmap-bot serve`: each is answered, or refused with the
reason, exactly once; the digests of the channels that subscribed go out with their
prompts as a reply, once."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from fakes.discord_server import (
    ANNOUNCEMENT_THREAD,
    DEFERRED_CHANNEL_MESSAGE,
    GUILD_ANNOUNCEMENT,
    GUILD_FORUM,
    GUILD_STAGE_VOICE,
    GUILD_VOICE,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    FakeChannel,
    FakeDiscord,
    FakeUser,
    SentInteraction,
    snowflake,
)
from test_operator import environment
from test_serve_process import start_serve

FIXTURES = Path(__file__).parent / "fixtures"
WEB = re.compile(r"serving /healthz, /metrics and study-group pages on 127\.0\.0\.1:(\d+)")

SUBSCRIBED = "This channel now gets"
# fixture -> (where it happens, who, what the user sees: a title or its beginning)
CASES: dict[str, tuple[str, str, str]] = {
    "guild_text_project": ("text", "alice", "Redis"),
    "dm_project": ("dm", "alice", "Redis"),
    "no_permission_voice_project": ("voice", "alice", "Redis"),
    "public_thread_subscribe": ("public thread", "mod", SUBSCRIBED),
    "private_thread_subscribe": ("private thread", "mod", SUBSCRIBED),
    "announcement_thread_subscribe": ("announcement thread", "mod", SUBSCRIBED),
    "forum_post_subscribe": ("forum post", "mod", SUBSCRIBED),
    "voice_chat_subscribe": ("voice", "mod", SUBSCRIBED),
    "stage_chat_subscribe": ("stage", "mod", SUBSCRIBED),
    "forum_channel_subscribe": (
        "forum",
        "mod",
        "A forum channel holds no messages, so it cannot get the weekly digest.",
    ),
    "no_permission_subscribe": (
        "text",
        "alice",
        "You need the Manage Channels permission",
    ),
}


def test_every_fixture_is_used_and_every_case_has_one() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(CASES)


def load(name: str, **values: object) -> dict[str, Any]:
    """A fixture's interaction with its ${placeholders} filled in."""
    text = (FIXTURES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("${" + key + "}", str(value))
    assert "${" not in text, f"{name}: a placeholder is left: {text[text.index('${') :][:40]}"
    interaction: dict[str, Any] = json.loads(text)["interaction"]
    return interaction


class World:
    """The channels of the fake's guild, made after the bot connected: discord.py knows
    them only from each fixture's own channel object, as with a thread it never saw."""

    def __init__(self, fake: FakeDiscord) -> None:
        guild = fake.guild
        self.fake = fake
        news = guild.add_channel("news", GUILD_ANNOUNCEMENT)
        self.forum = guild.add_channel("questions", GUILD_FORUM)
        self.channels: dict[str, FakeChannel] = {
            "text": guild.channel,
            "public thread": guild.add_channel("reading club", PUBLIC_THREAD, guild.channel),
            "private thread": guild.add_channel("mentors only", PRIVATE_THREAD, guild.channel),
            "announcement thread": guild.add_channel("talk", ANNOUNCEMENT_THREAD, news),
            "forum post": guild.add_channel("Weekly reading", PUBLIC_THREAD, self.forum),
            "voice": guild.add_channel("Lounge", GUILD_VOICE),
            "stage": guild.add_channel("Town hall", GUILD_STAGE_VOICE),
            "forum": self.forum,
        }
        self.users = {"alice": FakeUser(snowflake(), "alice"), "mod": FakeUser(snowflake(), "mod")}

    def interaction(self, name: str, where: str, who: str) -> dict[str, Any]:
        user = self.users[who]
        channel = self.fake.dm_channel(user) if where == "dm" else self.channels[where]
        interaction_id = snowflake()
        return load(
            name,
            interaction_id=interaction_id,
            token=f"interaction-token-{interaction_id}",
            application_id=self.fake.application_id,
            command_id=self.fake.command("roadmap")["id"],
            guild_id=self.fake.guild.id,
            channel_id=channel.id,
            parent_id=channel.parent_id or 0,
            user_id=user.id,
            tag_id=snowflake(),
        )


def answered_once(sent: SentInteraction) -> None:
    """One response: an answer, or a 'thinking…' then exactly one follow-up."""
    assert len(sent.callbacks) == 1, sent.callbacks
    deferred = sent.callbacks[0]["type"] == DEFERRED_CHANNEL_MESSAGE
    assert len(sent.followups) == (1 if deferred else 0), sent.followups


def next_monday_nine(now: datetime) -> datetime:
    due = (now + timedelta(days=(7 - now.weekday()) % 7)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return due if due > now else due + timedelta(days=7)


async def run_due(tmp_path: Path, fake: FakeDiscord, now: datetime) -> str:
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roadmap_bot",
        "digest",
        "run-due",
        "--now",
        now.isoformat(),
        env=environment(tmp_path, DISCORD_TOKEN=fake.token, DISCORD_API_URL=fake.api_url),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(done.communicate(), 60)
    assert done.returncode == 0, err.decode()
    return out.decode().strip()


async def test_documented_interactions_are_each_answered_once_by_a_real_serve(
    tmp_path: Path,
) -> None:
    async with FakeDiscord() as fake:
        served = await start_serve(
            tmp_path,
            {
                "DISCORD_TOKEN": fake.token,
                "DISCORD_API_URL": fake.api_url,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "ROADMAP_HTTP_HOST": "127.0.0.1",
                "ROADMAP_HTTP_PORT": "0",
            },
        )
        await fake.wait_identified(timeout=30)
        world = World(fake)
        sent: dict[str, SentInteraction] = {}
        for name, (where, who, expected) in CASES.items():
            sent[name] = await fake.send_interaction(world.interaction(name, where, who))
            shown = await sent[name].answer(timeout=15)
            assert shown.ephemeral, name
            assert shown.title.startswith(expected), (name, shown.text)
        await asyncio.sleep(0.5)  # a second answer, if there were one, would be in by now
        for interaction in sent.values():
            answered_once(interaction)
        assert fake.rejected == [] and fake.unhandled == [], (fake.rejected, fake.unhandled)
        # Discord alone: /healthz on serve's own web server reports the adapter too.
        port = int((await served.wait_for(WEB)).group(1))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as health,
        ):
            assert health.status == 200
            assert (await health.json())["adapters"] == {"discord": "ok"}

        subscribed = [CASES[n][0] for n in CASES if CASES[n][2] == SUBSCRIBED]
        due = next_monday_nine(datetime.now(UTC))
        summary = await run_due(tmp_path, fake, due + timedelta(minutes=1))
        assert summary == f"delivered {len(subscribed)}, already delivered 0, failed 0"
        assert await run_due(tmp_path, fake, due + timedelta(minutes=2)) == (
            f"delivered 0, already delivered {len(subscribed)}, failed 0"
        )
        for where in subscribed:
            channel = world.channels[where]
            posts = [m for m in fake.posts_in(channel.id) if m["type"] in (0, 19)]
            post, reply = posts  # the digest, then its prompts as a reply: once each
            assert post["embeds"][0]["title"] == "Project of the week: fzf", where
            assert reply["message_reference"]["message_id"] == post["id"], where
            assert reply["embeds"][0]["title"] == "Discussion: fzf", where
        assert fake.threads == {}  # none could be opened there
        # refused: only the private answer, no post
        assert [m["type"] for m in fake.posts_in(world.forum.id)] == [20]
        code, _ = await served.stop()
    assert code == 0, served.log
    assert "Traceback" not in served.log
    assert "interaction-token-" not in served.log and fake.token not in served.log
