"""Persistence behind one small async interface.

The core only talks to :class:`Store`; ``sqlite.py`` is the embedded implementation.
A server database can come later behind the same interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Status(StrEnum):
    """A person's relation to a project's report."""

    DONE = "done"
    READING = "reading"
    SKIPPED = "skipped"  # "skip for me": never recommend it to this person


@dataclass(frozen=True)
class Mark:
    status: Status
    at: datetime


# slug -> mark, for one person
UserProgress = Mapping[str, Mark]


class Store(Protocol):
    """What the core needs from persistence."""

    async def close(self) -> None: ...

    async def remember_user(self, user: str, name: str, at: datetime) -> None:
        """Record a user's display name (for progress views and digest recaps)."""

    async def user_name(self, user: str) -> str | None: ...

    async def user_names(self, users: Iterable[str]) -> dict[str, str]: ...

    async def set_mark(self, user: str, project: str, status: Status, at: datetime) -> Mark | None:
        """Set a mark (the same mark again keeps its date); return the previous one."""

    async def clear_mark(self, user: str, project: str, at: datetime | None = None) -> Mark | None:
        """Remove a mark; return what was removed (None if there was nothing)."""

    async def progress(self, user: str) -> dict[str, Mark]: ...

    async def progress_of(self, users: Iterable[str]) -> dict[str, dict[str, Mark]]: ...

    async def follows(self, user: str) -> dict[str, datetime]:
        """The paths a person follows (path slug -> since when), the latest followed first."""

    async def follow(self, user: str, path: str, at: datetime) -> bool:
        """Follow a path; False when it was followed already (its date is kept)."""

    async def unfollow(self, user: str, path: str) -> bool:
        """Stop following a path; False when it was not followed."""

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...
