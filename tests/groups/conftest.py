"""Study-group fixtures: the real core and deliverer, with a recording console platform."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from fakes.sleeps import Sleeps
from roadmap_bot.chat.core import Asker, Profile, Roadmap
from roadmap_bot.chat.replies import Reply
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer, DeliveryError
from roadmap_bot.groups.digest import Digest
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.sql import SqlStore


@dataclass
class Post:
    channel: str
    message: Reply
    delivery_id: str
    message_id: str


@dataclass
class RecordingPoster:
    """A platform that keeps every post, and fails on cue."""

    platform: str = "console"
    min_interval: float = 0.0
    posts: list[Post] = field(default_factory=list)
    discussions: list[tuple[str, str]] = field(default_factory=list)
    # channel -> errors to raise on the next posts there, in order
    failures: dict[str, list[DeliveryError]] = field(default_factory=dict)
    history_lookups: int = 0

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        queue = self.failures.get(channel)
        if queue:
            raise queue.pop(0)
        message_id = f"m{len(self.posts) + 1}"
        self.posts.append(Post(channel, message, delivery_id, message_id))
        return message_id

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        self.discussions.append((channel, message_id))

    async def find_post(self, channel: str, delivery_id: str, since: datetime) -> str | None:
        self.history_lookups += 1
        found = [p for p in self.posts if p.channel == channel and p.delivery_id == delivery_id]
        return found[0].message_id if found else None

    async def find_discussion(self, channel: str, message_id: str, delivery_id: str) -> bool:
        return (channel, message_id) in self.discussions

    def titles(self, channel: str) -> list[str]:
        return [p.message.title for p in self.posts if p.channel == channel]


@pytest.fixture
def poster() -> RecordingPoster:
    return RecordingPoster()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def deliverer(
    roadmap: Roadmap, store: SqlStore, clock: FixedClock, poster: RecordingPoster, sleeps: Sleeps
) -> Deliverer:
    return Deliverer(
        roadmap.catalog,
        store,
        clock,
        {"console": poster},
        catchup=timedelta(hours=24),
        sleep=sleeps,
    )


@pytest.fixture
def groups(roadmap: Roadmap, deliverer: Deliverer) -> StudyGroups:
    return StudyGroups(roadmap, deliverer, default_zone="UTC")


def member(
    name: str, channel: str = "console:study", *, admin: bool = False, zone: str | None = None
) -> Asker:
    """A chat member whose platform says whether they manage the channel."""

    async def profile() -> Profile:
        return Profile(timezone=zone, can_manage_channel=admin)

    return Asker(id=f"console:{name}", name=name, channel=channel, profile=profile)


Ask = Callable[[str, Asker], Awaitable[Reply]]


class BlockedPoster(RecordingPoster):
    """Its posts wait until ``release`` is set (a slow platform)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()

    async def post(self, channel: str, message: object, delivery_id: str) -> str:  # type: ignore[override]
        self.waiting.set()
        await self.release.wait()
        return await super().post(channel, message, delivery_id)  # type: ignore[arg-type]
