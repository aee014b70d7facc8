"""Who asks, from Slack payloads: people and channels keyed the way Slack defines them.

A channel belongs to the installation that serves it, never to whoever types: its
enterprise for an org-wide Enterprise Grid install, else its workspace
(``slack:<E|T>:<channel>``). Everyone in a Slack Connect channel, from any organization,
reaches the same subscription; where both sides installed the app, the installation whose
subscription the channel already has owns it (:meth:`People.with_owner`). A person is ``slack:<enterprise>:<user>`` when the request
comes through an Enterprise Grid organization (Grid user ids are org-wide, so progress
follows them from workspace to workspace) and ``slack:<team>:<user>`` otherwise.

A profile (time zone, may they manage the channel's digest and if never, why) comes from
``users.info`` only when the core asks for it, and is cached for a while: admins and time
zones rarely change, and Slack rate-limits ``users.info``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from roadmap_bot.adapters.slack.tokens import NotInstalled, OneToken, Tokens, with_token
from roadmap_bot.chat.core import Asker, Profile
from roadmap_bot.store.identity import Installation

log = logging.getLogger(__name__)

PROFILE_TTL = 600.0  # seconds a users.info answer is trusted
OWNER_TTL = 300.0  # seconds a shared channel's owning installation is reused
# The words that read or change a channel's subscription: only these look its owner up.
CHANNEL_WORDS = frozenset(
    (
        "subscribe",
        "unsubscribe",
        "schedule",
        "skip",
        "pause",
        "resume",
        "digest",
        "group",
        "dashboard",
    )
)
# <@U123>, <@U123|alice> (slash commands with "escape users" on), <@W123> (Enterprise Grid)
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
USER_ID = re.compile(r"@?([UW][A-Z0-9]{5,})")


def user_id(team: str, user: str) -> str:
    return f"slack:{team}:{user}"


def channel_id(owner: str, channel: str | None) -> str | None:
    """Channels are ``slack:<owner>:<channel>`` (owner: :attr:`Install.key`); a direct
    message is no channel (None)."""
    if not channel or channel.startswith("D"):
        return None
    return f"slack:{owner}:{channel}"


@dataclass(frozen=True)
class Install(Installation):
    """The installation that serves a request, as Bolt authorized it: one workspace, or a
    whole Enterprise Grid organization (an org-wide install). Its ``key`` names whose
    channels these are, and is what :class:`Tokens` finds its bot token by."""

    name: str | None = None  # the workspace's name, when Slack told it

    @property
    def people(self) -> str:
        """How people reached through it are qualified: Grid user ids are org-wide."""
        return self.enterprise or self.team or ""


# The installation of ours whose key an active subscription of a Slack channel id is under.
ChannelOwners = Callable[[str], Awaitable[Install | None]]


@dataclass(frozen=True)
class Origin:
    """Who sent a request, and through which installation."""

    install: Install
    user: str
    user_team: str | None = None  # the person's own workspace, when the payload names it
    # The installation whose channel this is, when another of ours subscribed it first
    # (both sides of a Slack Connect channel installed the app): see People.with_owner.
    channel_owner: Install | None = None

    @property
    def owner(self) -> Install:
        """The installation that owns the channel: who may manage its digest is its call."""
        return self.channel_owner or self.install

    @property
    def qualifier(self) -> str:
        """A Grid organization's id, else the person's own workspace (a Slack Connect
        member of another workspace keeps theirs), else the installation's."""
        return self.install.enterprise or self.user_team or self.install.team or ""

    @property
    def id(self) -> str:
        return user_id(self.qualifier, self.user)


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
        install_names: Callable[[Install], Awaitable[str | None]] | None = None,
        channel_owners: ChannelOwners | None = None,
    ) -> None:
        self.client = client
        self.admins = frozenset(admins)
        self.clock = clock
        self.tokens: Tokens = tokens or OneToken()
        # The installing workspace's name, for refusals that tell whom to ask.
        self.install_names = install_names
        self.channel_owners = channel_owners
        self._owners: dict[str, tuple[float, Install]] = {}
        self._users: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def asker(
        self,
        origin: Origin,
        name: str,
        channel: str | None,
        mentions: Mentions | None = None,
    ) -> Asker:
        mentions = mentions or Mentions("", {})
        cached: list[Profile] = []

        async def profile() -> Profile:
            if not cached:
                cached.append(await self.profile(origin))
            return cached[0]

        return Asker(
            id=origin.id,
            name=name or origin.user,
            channel=channel_id(origin.owner.key, channel),
            resolve_user=lambda typed: mentions.resolve(origin.install.people, typed),
            profile=profile,
        )

    async def profile(self, origin: Origin) -> Profile:
        """Time zone and the right to manage the channel's digest, from users.info (asked
        with the installation's token) and ROADMAP_SLACK_ADMINS.

        Admins and owners manage only as members of the installing organization: a Slack
        Connect member of another organization, and a guest, never do, whatever their own
        workspace says of them (``outsider`` says why). Ids the operator listed always may.
        """
        info = await self.user_info(origin.install.key, origin.user)
        zone = info.get("tz")
        if not isinstance(zone, str) or not _valid_zone(zone):
            zone = None
        if self.listed(origin):
            return Profile(timezone=zone, can_manage_channel=True)
        outsider = _outsider(info, origin)
        if outsider is not None:
            outsider = outsider.format(installer=await self._shown(origin.owner))
        admin = any(bool(info.get(k)) for k in ("is_admin", "is_owner", "is_primary_owner"))
        return Profile(
            timezone=zone, can_manage_channel=admin and outsider is None, outsider=outsider
        )

    async def with_owner(self, origin: Origin, channel: str | None, text: str) -> Origin:
        """The origin, with the channel's owner when another installation of ours holds
        its subscription: one channel, one subscription, whoever's installation serves
        the request. Looked up for the study-group words (the rest use what is known)."""
        if self.channel_owners is None or not channel or channel.startswith("D"):
            return origin
        now = self.clock()
        hit = self._owners.get(channel)
        if hit is not None and now - hit[0] < OWNER_TTL:
            owner: Install | None = hit[1]
        elif text.strip().split(" ", 1)[0].casefold() in CHANNEL_WORDS:
            owner = await self.channel_owners(channel)
            if owner is not None:
                self._owners[channel] = (now, owner)
        else:
            return origin
        if owner is None or owner.key == origin.install.key:
            return origin
        return replace(origin, channel_owner=owner)

    async def _shown(self, install: Install) -> str:
        if install.name:
            return install.name
        if self.install_names is not None:
            try:
                return await self.install_names(install) or install.key
            except Exception:  # only a name in a sentence: the id says it too
                log.warning("could not name Slack installation %s", install.key, exc_info=True)
        return install.key

    def listed(self, origin: Origin) -> bool:
        """In ROADMAP_SLACK_ADMINS: the bare user id, or qualified as we key them."""
        qualifiers = {origin.qualifier, origin.install.key, origin.install.team}
        forms = {origin.user} | {user_id(q, origin.user) for q in qualifiers if q}
        return not self.admins.isdisjoint(forms)

    async def user_info(self, owner: str, user: str) -> dict[str, Any]:
        """users.info's ``user`` object (asked with the token of the installation ``owner``
        names), cached; {} when Slack cannot tell (logged)."""
        now = self.clock()
        hit = self._users.get((owner, user))
        if hit is not None and now - hit[0] < PROFILE_TTL:
            return hit[1]
        try:
            token = await self.tokens.for_team(owner)
            response = await self.client.users_info(user=user, **with_token(token))
        except (SlackClientError, OSError, TimeoutError, NotInstalled) as problem:
            log.warning("users.info for %s failed: %s", user, _reason(problem))
            return {}
        info = response.get("user") or {}
        self._users[(owner, user)] = (now, info)
        return dict(info)

    async def names(self, owner: str, users: list[str]) -> dict[str, str]:
        """Display names for mentioned users Slack sent without one."""
        out = {}
        for user in dict.fromkeys(users):
            info = await self.user_info(owner, user)
            profile = info.get("profile") or {}
            name = profile.get("display_name") or profile.get("real_name") or info.get("name")
            if name:
                out[user] = str(name)
        return out


def _outsider(info: Mapping[str, Any], origin: Origin) -> str | None:
    """Why this person may never manage the installation's channels, or None.

    Membership is the user's own team (users.info ``team_id``, else the payload's) or
    Grid organization (``enterprise_user.enterprise_id``) against the installation's.
    """
    install = origin.owner
    ask = "ask an admin of {installer} (the workspace that installed roadmap-bot)"
    enterprise = (info.get("enterprise_user") or {}).get("enterprise_id")
    team = info.get("team_id") or origin.user_team
    ours = {t for t in (install.team, install.enterprise) if t}
    external = bool(info.get("is_stranger")) or (
        (team is not None or enterprise is not None)
        and team not in ours
        and (enterprise is None or enterprise != install.enterprise)
    )
    if external:
        return (
            "You are a member of another organization in this shared channel; "
            f"{ask} to change its digest."
        )
    if info.get("is_restricted") or info.get("is_ultra_restricted"):
        return f"Guests can't change a channel's digest; {ask}."
    return None


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
