"""Which bot token a Slack workspace's calls use.

One workspace (``SLACK_BOT_TOKEN``): :class:`OneToken` answers None and the client's own
token is used, as always. Installs by OAuth: ``installs.InstalledTokens`` looks the
workspace's token up in the installation store. Kept apart from ``installs.py`` so the
single-token mode never imports SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

# Told when an installation (its key: team, or enterprise when org-wide) removes the app
# (key, reason) or installs it (key).
Removed = Callable[[str, str], Awaitable[None]]
Installed = Callable[[str], Awaitable[None]]


def is_organization(key: str) -> bool:
    """Whether an installation key names an org-wide Enterprise Grid install (keyed by its
    enterprise id, ``E...``) rather than a workspace (its team id, ``T...``)."""
    return key.startswith("E")


def kind_of(key: str) -> str:
    """What an installation key names, in words."""
    return "organization" if is_organization(key) else "workspace"


def removed_reason(key: str, revoked: bool = False) -> str:
    """Why the installation ``key``'s digests stopped, as ``schedule`` shows it."""
    if revoked:
        return (
            f"the app's bot token was revoked in this Slack {kind_of(key)}: reinstall it to resume"
        )
    return f"the app was uninstalled from this Slack {kind_of(key)}: reinstall it to resume"


UNINSTALLED = removed_reason("T")  # a workspace's, the common case
# Every reason the app's removal pauses digests for: installing again resumes only those.
REMOVED_REASONS = tuple(
    removed_reason(key, revoked) for key in ("T", "E") for revoked in (False, True)
)


class NotInstalled(Exception):
    """No installation for the workspace (never installed, or uninstalled since)."""

    def __init__(self, team: str) -> None:
        super().__init__(f"the app is not installed in Slack workspace {team}")
        self.team = team


class Tokens(Protocol):
    """The bot token of an installation, named by its key: a workspace's team id
    (``T...``), or an enterprise id (``E...``) for an org-wide Enterprise Grid install."""

    async def for_team(self, team: str) -> str | None:
        """The token, or None: the client's own token (single-workspace mode)."""

    def forget(self, team: str) -> None:
        """Drop what is known of the installation (it was uninstalled)."""


class OneToken:
    """SLACK_BOT_TOKEN mode: the client carries the one token; nothing to look up."""

    async def for_team(self, team: str) -> str | None:
        return None

    def forget(self, team: str) -> None:
        pass


def with_token(token: str | None) -> dict[str, Any]:
    """Keyword arguments for a Web API call in a workspace (none: the client's token)."""
    return {"token": token} if token else {}
