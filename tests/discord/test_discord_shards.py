"""Discord shards: each replica connects the shards it owns and answers only their guilds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from fakes.discord_people import ALICE, BOB
from fakes.discord_server import FakeDiscord, make_guild, shard_of
from roadmap_bot.adapters.discord.client import (
    RoadmapClient,
    ShardedRoadmapClient,
    make_client,
)
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.config import ConfigError, load_settings
from roadmap_bot.learning.catalog import Catalog
from roadmap_bot.store.sql import SqlStore

FIRST = make_guild("Shard zero", shard=(0, 2))
SECOND = make_guild("Shard one", shard=(1, 2))


@pytest.fixture
async def fake(fake: FakeDiscord) -> FakeDiscord:
    fake.guilds = [FIRST, SECOND]
    return fake


Replica = Callable[..., Any]


@pytest.fixture
async def replica(
    fake: FakeDiscord, catalog: Catalog, store: SqlStore, clock: Any
) -> AsyncIterator[Replica]:
    """Start a client as a replica with these shard settings; records what it handled."""
    running: list[tuple[RoadmapClient, asyncio.Task[None]]] = []

    async def start(name: str, handled: list[tuple[str, str]], **env: str) -> RoadmapClient:
        roadmap = Roadmap(catalog, store, clock)  # a replica's own core on the shared database

        async def seen(command: object, who: Asker) -> None:
            handled.append((name, who.id))

        roadmap.observers.append(seen)
        settings = load_settings(_env_file=None, DISCORD_TOKEN=fake.token, **env)
        client = make_client(roadmap, settings, guild_ready_timeout=0.01)
        if isinstance(client, ShardedRoadmapClient):
            client.identify_spacing = 0.0  # the fake has no identify rate limit
        before = len(fake.identifies)
        task = asyncio.create_task(client.start(fake.token))
        running.append((client, task))
        expected = len(settings.discord_shard_ids or range(2))
        await fake.wait_identified(before + expected)
        await asyncio.wait_for(client.wait_until_ready(), 10)
        return client

    yield start
    for client, task in running:
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


def callbacks(fake: FakeDiscord, interaction_id: int) -> int:
    return len(fake.requests_to("POST", rf"/interactions/{interaction_id}/[^/]+/callback"))


def test_the_fake_puts_each_guild_in_its_shard() -> None:
    assert shard_of(FIRST.id, 2) == 0 and shard_of(SECOND.id, 2) == 1
    assert {shard_of(make_guild(shard=(s, 3)).id, 3) for s in range(3)} == {0, 1, 2}


async def test_two_replicas_with_disjoint_shards_answer_each_interaction_once(
    fake: FakeDiscord, replica: Replica
) -> None:
    handled: list[tuple[str, str]] = []
    zero = await replica("zero", handled, DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS="0")
    one = await replica("one", handled, DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS="1")
    assert sorted(fake.shard_identifies()) == [(0, 2), (1, 2)]
    assert [g.id for g in zero.guilds] == [FIRST.id]  # each replica knows only its guilds
    assert [g.id for g in one.guilds] == [SECOND.id]

    asked = []
    for guild, user in [(FIRST, ALICE), (SECOND, BOB), (SECOND, ALICE), (FIRST, BOB)]:
        sent = await fake.slash("project", {"name": "redis"}, user=user, guild=guild)
        asked.append((guild, user, sent))
    for _, _, sent in asked:
        shown = await sent.answer()
        assert shown.title == "Redis"
        assert callbacks(fake, sent.id) == 1
    dm = await fake.slash("next", user=BOB, dm=True)  # Discord sends DMs to shard 0
    assert (await dm.answer()).title
    await asyncio.sleep(0.05)  # a second, wrong answer would have arrived by now
    assert callbacks(fake, dm.id) == 1
    assert sorted(handled) == sorted(
        [
            ("zero", f"discord:{FIRST.id}:{ALICE.id}"),
            ("one", f"discord:{SECOND.id}:{BOB.id}"),
            ("one", f"discord:{SECOND.id}:{ALICE.id}"),
            ("zero", f"discord:{FIRST.id}:{BOB.id}"),
            ("zero", f"discord:dm:{BOB.id}"),
        ]
    )


async def test_one_replica_connects_every_shard_when_no_ids_are_given(
    fake: FakeDiscord, replica: Replica
) -> None:
    handled: list[tuple[str, str]] = []
    fake.recommended_shards = 2  # what Discord suggests for DISCORD_SHARD_COUNT=auto
    client = await replica("all", handled, DISCORD_SHARD_COUNT="auto")
    assert sorted(fake.shard_identifies()) == [(0, 2), (1, 2)]
    assert sorted(g.id for g in client.guilds) == sorted([FIRST.id, SECOND.id])
    for guild in (FIRST, SECOND):
        sent = await fake.slash("paths", user=ALICE, guild=guild)
        await sent.answer()
        assert callbacks(fake, sent.id) == 1
    assert len(handled) == 2


async def test_without_shard_settings_the_client_is_unsharded(
    fake: FakeDiscord, roadmap: Roadmap
) -> None:
    client = make_client(roadmap, load_settings(_env_file=None, DISCORD_TOKEN=fake.token))
    assert type(client) is RoadmapClient  # today's single connection, unchanged


def test_shard_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError, match="DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT"):
        load_settings(_env_file=None, DISCORD_SHARD_IDS="0")
    with pytest.raises(ConfigError, match=r"\[2\] outside 0-1"):
        load_settings(_env_file=None, DISCORD_SHARD_COUNT="2", DISCORD_SHARD_IDS="0,2")
    with pytest.raises(ConfigError, match="whole number of shards"):
        load_settings(_env_file=None, DISCORD_SHARD_COUNT="two")
    ranges = load_settings(_env_file=None, DISCORD_SHARD_COUNT="8", DISCORD_SHARD_IDS="0-2, 6")
    assert ranges.discord_shard_ids == [0, 1, 2, 6]


async def test_health_follows_each_shard_of_a_replica(
    fake: FakeDiscord, replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    client = await replica("all", [], DISCORD_SHARD_COUNT="2")
    assert client.adapter_state.describe() == "ok"
    fake.refuse_gateway(1)  # shard 1's way back is refused once: it waits and tries again
    (link,) = [link for link in fake.links if link.shard_id == 1]
    await link.ws.close(code=4000)
    for _ in range(200):
        if client.adapter_state.describe() != "ok":
            break
        await asyncio.sleep(0.01)
    assert client.adapter_state.describe() == "connecting (shard 1 of 2)"
    for _ in range(1000):  # it resumes or identifies again, within discord.py's backoff
        if client.adapter_state.describe() == "ok":
            break
        await asyncio.sleep(0.01)
    assert client.adapter_state.describe() == "ok"
    sent = await fake.slash("paths", user=ALICE, guild=SECOND)  # shard 1 answers again
    await sent.answer()
    (line,) = [r for r in caplog.records if r.getMessage().startswith("Attempting a reconnect")]
    assert line.levelname == "WARNING" and line.exc_info is None
    assert "shard ID 1" in line.getMessage() and "(HTTP 503)" in line.getMessage()
