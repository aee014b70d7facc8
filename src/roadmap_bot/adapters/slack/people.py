"""Who asks, from Slack payloads: ``slack:<team>:<user>`` askers with mentions and profiles.

A profile (time zone, may they manage the channel's digest) comes from ``users.info``
only when the core asks for it, and is cached for a while: admins and time zones rarely
change, and Slack rate-limits ``users.info``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from roadmap_bot.adapters.slack.tokens import NotInstalled, OneToken, Tokens, with_token
from roadmap_bot.chat.core import Asker, Profile

log = logging.getLogger(__name__)

PROFILE_TTL = 600.0  # seconds a users.info answer is trusted
# <@U123>, <@U123|alice> (slash commands with "escape users" on), <@W123> (Enterprise Grid)
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
USER_ID = re.compile(r"@?([UW][A-Z0-9]{5,})")


def user_id(team: str, user: str) -> str:
    return f"slack:{team}:{user}"


def channel_id(team: str, channel: str | None) -> str | None:
    """Channels are ``slack:<team>:<channel>``; a direct message is no channel (None)."""
    if not channel or channel.startswith("D"):
        return None
    return f"slack:{team}:{channel}"


@dataclass(frozen=True)
class Mentions:
    """The user mentions in a command's text, rewritten to '@name' the core can show."""

    text: str
    by_name: Mapping[str, str]  # folded '@name' / 'name' / id -> Slack user id

    def resolve(self, team: str, typed: str) -> str | None:
        """The Slack user a 'progress USER' means: a mention, '@name' of one, or an id."""
        word = typed.strip()
        found = MENTION.fullmatch(word)
        if found:
            return user_id(team, found.group(1))
        known = self.by_name.get(word.casefold()) or self.by_name.get(word.lstrip("@").casefold())
        if known:
            return user_id(team, known)
        plain = USER_ID.fullmatch(word)
        return user_id(team, plain.group(1)) if plain else None


def read_mentions(text: str, names: Mapping[str, str] | None = None) -> Mentions:
    """Rewrite ``<@U1|alice>`` to ``@alice`` (``names`` supplies names Slack left out)."""
    by_name: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        uid, name = match.group(1), match.group(2) or (names or {}).get(match.group(1))
        shown = name.strip() if name and name.strip() else uid
        by_name[shown.casefold()] = uid
        by_name[uid.casefold()] = uid
        return f"@{shown}"

    return Mentions(MENTION.sub(swap, text), by_name)


def unnamed_mentions(text: str) -> list[str]:
    return [m.group(1) for m in MENTION.finditer(text) if not m.group(2)]


class People:
    """Builds askers and answers the core's profile questions through ``users.info``."""

    def __init__(
        self,
        client: AsyncWebClient,
        admins: list[str],
        clock: Callable[[], float] = time.monotonic,
        tokens: Tokens | None = None,
    ) -> None:
        self.client = client
        self.admins = frozenset(admins)
        self.clock = clock
        self.tokens: Tokens = tokens or OneToken()
        self._users: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def asker(
        self,
        team: str,
        user: str,
        name: str,
        channel: str | None,
        mentions: Mentions | None = None,
    ) -> Asker:
        mentions = mentions or Mentions("", {})
        cached: list[Profile] = []

        async def profile() -> Profile:
            if not cached:
                cached.append(await self.profile(team, user))
            return cached[0]

        return Asker(
            id=user_id(team, user),
            name=name or user,
            channel=channel_id(team, channel),
            resolve_user=lambda typed: mentions.resolve(team, typed),
            profile=profile,
        )

    async def profile(self, team: str, user: str) -> Profile:
        """Time zone and admin rights from users.info, plus ROADMAP_SLACK_ADMINS."""
        info = await self.user_info(team, user)
        zone = info.get("tz")
        if not isinstance(zone, str) or not _valid_zone(zone):
            zone = None
        admin = any(bool(info.get(k)) for k in ("is_admin", "is_owner", "is_primary_owner"))
        listed = user in self.admins or user_id(team, user) in self.admins
        return Profile(timezone=zone, can_manage_channel=admin or listed)

    async def user_info(self, team: str, user: str) -> dict[str, Any]:
        """users.info's ``user`` object (asked with the workspace's token), cached; {} when
        Slack cannot tell (logged)."""
        now = self.clock()
        hit = self._users.get((team, user))
        if hit is not None and now - hit[0] < PROFILE_TTL:
            return hit[1]
        try:
            token = await self.tokens.for_team(team)
            response = await self.client.users_info(user=user, **with_token(token))
        except (SlackClientError, OSError, TimeoutError, NotInstalled) as problem:
            log.warning("users.info for %s failed: %s", user, _reason(problem))
            return {}
        info = response.get("user") or {}
        self._users[(team, user)] = (now, info)
        return dict(info)

    async def names(self, team: str, users: list[str]) -> dict[str, str]:
        """Display names for mentioned users Slack sent without one."""
        out = {}
        for user in dict.fromkeys(users):
            info = await self.user_info(team, user)
            profile = info.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or info.get("name")
            if name:
                out[user] = str(name)
        return out


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _reason(problem: Exception) -> str:
    response = getattr(problem, "response", None)
    if response is not None:
        try:
            return str(response.get("error") or response.status_code)
        except Exception:
            pass
    return type(problem).__name__
