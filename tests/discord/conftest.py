"""Fixtures for the Discord adapter: a fake Discord and the real client logged into it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from fakes.discord_people import ALICE, BOB, MODERATOR
from fakes.discord_server import FakeDiscord
from roadmap_bot.adapters.discord.client import RoadmapClient, use_endpoints
from roadmap_bot.chat.core import Roadmap


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        # discord.py keeps both endpoints on classes: restore them after the test.
        monkeypatch.setattr(Route, "BASE", Route.BASE)
        monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)
        use_endpoints(server.api_url, server.gateway_url)
        yield server


StartBot = Callable[..., Any]


@pytest.fixture
async def start_bot(fake: FakeDiscord, roadmap: Roadmap) -> AsyncIterator[Callable[..., Any]]:
    """Start a RoadmapClient logged into the fake; every one started is closed at the end."""
    running: list[tuple[RoadmapClient, asyncio.Task[None]]] = []

    async def start(**options: Any) -> RoadmapClient:
        options.setdefault("guild_id", fake.guild.id)
        options.setdefault("guild_ready_timeout", 0.01)
        client = RoadmapClient(options.pop("roadmap", roadmap), **options)
        task = asyncio.create_task(client.start(fake.token))
        running.append((client, task))
        await fake.wait_identified(len(fake.identifies) + 1)
        return client

    yield start
    for client, task in running:
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(start_bot: Callable[..., Any]) -> RoadmapClient:
    client: RoadmapClient = await start_bot()
    return client


__all__ = ["ALICE", "BOB", "MODERATOR", "yarl"]
