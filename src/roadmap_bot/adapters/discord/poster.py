"""Weekly digests on Discord, over REST only: an embed with buttons, then a thread for the prompts.

``roadmap-bot digest run-due`` has no gateway connection, so the poster talks REST
through its own discord.py ``HTTPClient`` logged in with the bot token (``serve`` opens
one too, beside the gateway client). It honours ``DISCORD_API_URL`` like the client.

How a post is made exactly once on Discord's side:

- Each post carries a nonce derived from the delivery id, with ``enforce_nonce``:
  Discord answers a repeat within its nonce window (a few minutes) with the first
  message instead of posting a second one, so retrying an unanswered post is safe.
- Discord does not return nonces in a channel's history, so each digest's footer ends
  with a marker we control, ``ref <delivery id>``. ``find_post`` reads the channel's
  history after the due time and takes the message *our bot* wrote whose footer carries
  that exact marker: after a crash between posting and recording, long after the nonce
  window, the post is found instead of repeated. The marker is visible but quiet (a
  reference in small footer type) and cannot be forged: only the bot edits its messages.

Where a thread cannot be opened on the digest, the prompts go out as a reply to it
(``message_reference``): in a DM, and wherever Discord answers the thread request with
50024 "Cannot execute action on this channel type" (the digest's channel is itself a
thread or a forum post, or a voice or stage channel's chat). The answer is remembered per
channel for the poster's life, so later weeks reply at once. ``find_discussion`` looks
for the thread first and, when the post has none, for our reply to it in the channel:
after a crash it is found whichever form it took, and never posted twice.

A 429 is handed back as ``DeliveryError(retry_after=...)`` rather than slept through
inside discord.py, so the deliverer waits without holding one of its concurrency slots
(and tests inject that wait). Refusals about the channel (403, 404) are permanent and
pause that channel's subscription with a readable reason; 5xx answers are transient.
Anything without an answer (timeout, lost connection) is raised as it is: the outcome
is unknown and the deliverer looks before it posts again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal, TypeVar

import aiohttp
import discord
from discord.http import HTTPClient, Ratelimit, Route

from roadmap_bot.adapters.discord.client import TOKEN_REJECTED, use_endpoints
from roadmap_bot.adapters.discord.embeds import FOOTER_MAX, Options, clip, render
from roadmap_bot.chat.by_identity import ByIdentity
from roadmap_bot.chat.replies import Reply
from roadmap_bot.config import ConfigError, Settings
from roadmap_bot.groups.delivery import DeliveryError
from roadmap_bot.groups.digest import Digest

log = logging.getLogger(__name__)

T = TypeVar("T")

NONCE_MAX = 25  # Discord's limit for a nonce string
THREAD_NAME_MAX = 100
# A week: the discussion stays open until the next digest.
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080
HISTORY_PAGE = 100  # Discord's largest page of channel history
HISTORY_PAGES = 10  # find_post reads at most this many pages after the due time
REQUEST_TIMEOUT = 30.0  # seconds; beyond it the outcome is unknown and the deliverer looks
FIND_ATTEMPTS = 3  # a rate-limited history read is waited out this often

# discord.py sleeps through a 429 whose retry_after is at most this, and raises
# RateLimited above it. A tiny value hands every 429 to the deliverer.
RATE_LIMIT_HANDOFF = 0.001
PRUNE_FROM = 256  # rate-limit buckets kept before idle ones are looked for

MARKER = "ref "
_MARKER_RE = re.compile(rf"(?:^| · ){MARKER}(\S+)$")

# Discord's JSON error codes that mean "this channel cannot get the digest" (permanent).
_REASONS = {
    50001: "Discord says Missing Access: the bot cannot see this channel. Add the bot to "
    "the channel (it needs View Channel; in a private thread, @mention the bot to add it).",
    50013: "Discord says Missing Permissions: the bot needs Send Messages, Embed Links and "
    "Create Public Threads in this channel.",
    10003: "Discord says Unknown Channel: the channel was deleted, or the bot was removed "
    "from the server.",
    50008: "Discord says the bot cannot send messages in this kind of channel.",
    50083: "Discord says the thread is archived: unarchive it, or subscribe in a text channel.",
    160005: "Discord says the thread is locked: unlock it, or subscribe in a text channel.",
}
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
NO_THREADS_HERE = 50024  # "Cannot execute action on this channel type" (thread, forum, voice)


class _Declined(Exception):
    """Discord answered with an error code the caller expects and handles."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def nonce_for(delivery_id: str, part: str = "post") -> str:
    """A deterministic nonce of at most 25 characters for one message of a delivery."""
    digest = hashlib.sha256(f"{part}:{delivery_id}".encode()).hexdigest()
    return f"rb{digest[: NONCE_MAX - 2]}"


def marker(delivery_id: str) -> str:
    return f"{MARKER}{delivery_id}"


def marked_id(message: dict[str, Any]) -> str | None:
    """The delivery id in a message's footer marker, if it has one."""
    for embed in message.get("embeds") or []:
        found = _MARKER_RE.search((embed.get("footer") or {}).get("text") or "")
        if found:
            return found.group(1)
    return None


def channel_id(channel: str) -> int:
    """``discord:<guild or dm>:<channel>`` -> the channel's snowflake."""
    platform, _, rest = channel.partition(":")
    raw = rest.rpartition(":")[2]
    if platform != "discord" or not raw.isdigit():
        raise DeliveryError(f"'{channel}' is not a Discord channel id.", permanent=True)
    return int(raw)


def digest_payload(reply: Reply, delivery_id: str, part: str = "post") -> dict[str, Any]:
    """The body of a public digest message: embed, buttons, nonce and (on the post) the marker."""
    if part == "post":  # only the post: find_post must never take the prompts for it
        tag = marker(delivery_id)
        room = FOOTER_MAX - len(tag) - len(" · ")
        footer = f"{clip(reply.footer, room)} · {tag}" if reply.footer else tag
        reply = reply.model_copy(update={"footer": footer})
    return _with_nonce(_public_body(reply), delivery_id, part)


def _public_body(reply: Reply) -> dict[str, Any]:
    """Embed and buttons, for the whole channel."""
    payload = render(reply, Options(offer_share=False)).payload()
    payload.pop("flags", None)  # a digest is for the whole channel
    return payload


def _with_nonce(body: dict[str, Any], delivery_id: str, part: str) -> dict[str, Any]:
    # a copy: the body may be shared by many channels' posts (the discussion's)
    return {**body, "nonce": nonce_for(delivery_id, part), "enforce_nonce": True}


def refusal(error: discord.HTTPException) -> DeliveryError:
    """What Discord's refusal means for a digest: permanent for the channel or not."""
    status, code = error.status, error.code
    text = error.text or getattr(error.response, "reason", "") or "no details"
    if code in _REASONS:
        return DeliveryError(_REASONS[code], permanent=True)
    if status == 403:
        return DeliveryError(f"Discord refused the post (403: {text}).", permanent=True)
    if status == 404:
        return DeliveryError(f"Discord could not find it (404: {text}).", permanent=True)
    if status == 401:
        return DeliveryError("Discord rejected DISCORD_TOKEN (401).")
    if status >= 500:  # it may have posted before failing: looked up before a retry
        return DeliveryError(f"Discord had a server error ({status}); trying again.", unknown=True)
    return DeliveryError(f"Discord refused the post ({status}: {text}).")


class RestClient(HTTPClient):
    """discord.py's HTTP client, handing 429s to the caller instead of sleeping through them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        # Set below discord.py's floor of 30 s on purpose: every 429 becomes RateLimited.
        self.max_ratelimit_timeout = RATE_LIMIT_HANDOFF
        self._prune_at = PRUNE_FROM

    def get_ratelimit(self, key: str) -> Ratelimit:
        # Buckets built without the hand-off limit keep discord.py's usual pacing inside
        # a window (5 posts per 5 s in a channel) rather than refusing the next request.
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Ratelimit(None)
            # A fan-out makes a bucket per channel; discord.py scans them all for idle
            # ones on every new bucket past 256 (quadratic: 36 s of CPU for 2,000
            # channels). Scanning each time the count doubles keeps it linear.
            if len(self._buckets) >= self._prune_at:
                self._try_clear_expired_ratelimits()
                self._prune_at = max(PRUNE_FROM, 2 * len(self._buckets))
        return bucket


class DiscordPoster:
    """Posts digests to Discord channels; implements the deliverer's Poster."""

    platform = "discord"
    min_interval = 0.0  # Discord allows 5 messages per 5 s in a channel: no pause needed

    def __init__(
        self,
        http: HTTPClient,
        bot_id: int | None,
        *,
        timeout: float = REQUEST_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        login: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.http = http
        self.bot_id = bot_id  # None until a login that Discord did not answer succeeds
        self._login = login
        self.timeout = timeout
        self.sleep = sleep
        # Channels where Discord refused a thread on a message (50024): replies instead.
        self._threadless: set[int] = set()
        # every channel at the same step of a target gets the same prompts (one object)
        self._discussion = ByIdentity(_public_body, size=256)

    async def _ready(self) -> None:
        """Log in first when Discord did not answer at start-up; until it does, each
        delivery fails as a transient problem and is retried."""
        if self.bot_id is not None:
            return
        if self._login is None:
            raise DeliveryError("the Discord poster is not logged in.")
        try:
            self.bot_id = await self._login()
        except ConfigError as problem:
            raise DeliveryError(f"{problem}.") from None
        log.info("Discord's API answers again: digests to Discord go out")

    async def _call(self, request: Awaitable[T], expected: Collection[int] = ()) -> T:
        """Run a request; an error code in ``expected`` is raised as :class:`_Declined`."""
        try:
            return await asyncio.wait_for(request, self.timeout)
        except discord.RateLimited as limited:
            raise DeliveryError(
                f"Discord rate limit: retry in {limited.retry_after:.2f} s.",
                retry_after=limited.retry_after,
            ) from None
        except discord.HTTPException as error:
            if error.code in expected:
                raise _Declined(error.code) from None
            raise refusal(error) from None

    async def _send(self, target: int, payload: dict[str, Any]) -> dict[str, Any]:
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=target)
        message: dict[str, Any] = await self._call(self.http.request(route, json=payload))
        return message

    def _takes_threads(self, channel: str) -> bool:
        """Whether a thread may be opened on a post here, as far as this poster knows."""
        return channel.split(":")[1] != "dm" and channel_id(channel) not in self._threadless

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        """Post the digest publicly; a repeat within Discord's nonce window returns the first."""
        await self._ready()
        sent = await self._send(channel_id(channel), digest_payload(message, delivery_id))
        return str(sent["id"])

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        """Open a thread on the digest and post the prompts in it; where Discord opens no
        thread on a message (a DM, a thread or forum post, a voice chat): a reply to it."""
        if digest.discussion is None:
            return
        await self._ready()
        try:
            await self._discuss(
                channel, message_id, digest.discussion, digest.thread_title, delivery_id
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as lost:
            # Both steps are safe to repeat (an existing thread is reused, the prompts carry
            # a nonce), so an unanswered attempt is simply retried.
            raise DeliveryError(f"no answer from Discord ({type(lost).__name__}).") from None

    async def _discuss(
        self, channel: str, message_id: str, discussion: Reply, title: str, delivery_id: str
    ) -> None:
        payload = _with_nonce(self._discussion(discussion), delivery_id, "discussion")
        target = channel_id(channel)
        if self._takes_threads(channel):
            thread = await self._open_thread(target, int(message_id), title)
            if thread is not None:
                await self._send(thread, payload)
                return
        # No thread here (a DM, a thread or forum post, a voice chat): a reply to the post.
        payload["message_reference"] = {"message_id": message_id, "fail_if_not_exists": False}
        await self._send(target, payload)

    async def _open_thread(self, target: int, message_id: int, title: str) -> int | None:
        """The id of the post's thread (opened now or by an earlier attempt), or None
        where Discord opens no thread on a message in this channel."""
        name = clip(title or "Discussion", THREAD_NAME_MAX)
        try:
            await self._call(
                self.http.start_thread_with_message(
                    target, message_id, name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES
                ),
                expected=(THREAD_EXISTS, NO_THREADS_HERE),
            )
        except _Declined as declined:
            if declined.code == NO_THREADS_HERE:
                log.info("channel %d takes no threads: the prompts go out as a reply", target)
                self._threadless.add(target)
                return None
            # THREAD_EXISTS: an earlier attempt opened it.
        return message_id  # a thread on a message has the message's id

    async def find_discussion(self, channel: str, message_id: str, delivery_id: str) -> bool:
        """Whether our prompts are under the post: in its thread (whose id is the post's),
        or, where the post has no thread, as our reply to it in the channel."""
        await self._ready()
        if self._takes_threads(channel):
            try:
                page = await self._history(int(message_id), 0)
            except DeliveryError as problem:
                if not problem.permanent:
                    raise
                # No thread on the post (Unknown Channel): none yet, or a channel that
                # takes replies instead. The reply, if there is one, is in the channel.
            else:
                return any(self._ours(m) for m in page)
        try:
            reply = await self._scan(
                channel_id(channel),
                int(message_id),
                lambda m: (
                    self._ours(m)
                    and str((m.get("message_reference") or {}).get("message_id")) == message_id
                ),
            )
        except DeliveryError as problem:
            if not problem.permanent:
                raise
            log.warning("%s: history unreadable (%s): relying on the nonce", channel, problem)
            return False
        return reply is not None

    def _ours(self, message: dict[str, Any]) -> bool:
        return (message.get("author") or {}).get("id") == str(self.bot_id)

    async def find_post(self, channel: str, delivery_id: str, since: datetime) -> str | None:
        """Our message carrying ``delivery_id``'s marker, among those after ``since``."""
        await self._ready()
        try:
            found = await self._scan(
                channel_id(channel),
                discord.utils.time_snowflake(since),
                lambda m: self._ours(m) and marked_id(m) == delivery_id,
            )
        except DeliveryError as problem:
            if not problem.permanent:
                raise
            # The bot may post but not read history (no Read Message History): the
            # nonce is then the only check, and Discord applies it to the repost.
            log.warning("%s: history unreadable (%s): relying on the nonce", channel, problem)
            return None
        return str(found["id"]) if found is not None else None

    async def _scan(
        self, target: int, after: int, wanted: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any] | None:
        """The first message after ``after`` that is ``wanted``, within HISTORY_PAGES pages."""
        for _ in range(HISTORY_PAGES):
            page = await self._history(target, after)
            for message in page:
                if wanted(message):
                    return message
            if len(page) < HISTORY_PAGE:
                return None
            after = max(int(m["id"]) for m in page)
        log.warning("channel %d: nothing found in the first %d pages", target, HISTORY_PAGES)
        return None

    async def _history(self, target: int, after: int) -> list[dict[str, Any]]:
        for attempt in range(FIND_ATTEMPTS):
            try:
                page = await self._call(self.http.logs_from(target, HISTORY_PAGE, after=after))
                return [dict(m) for m in page]
            except DeliveryError as problem:
                if problem.retry_after is None or attempt + 1 == FIND_ATTEMPTS:
                    raise
                await self.sleep(problem.retry_after)
        raise AssertionError("unreachable")


@asynccontextmanager
async def open_poster(
    settings: Settings,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    patient: bool = False,
) -> AsyncIterator[DiscordPoster]:
    """A REST-only poster logged in with DISCORD_TOKEN; the session closes on exit.

    A rejected token is a ConfigError. So is a Discord that does not answer, unless
    ``patient`` (``serve``, which must not exit over Discord's outage): the poster then
    logs in at its first delivery, and a delivery before Discord answers is retried.
    """
    if settings.discord_token is None:
        raise ConfigError("DISCORD_TOKEN is not set")
    token = settings.discord_token.get_secret_value()
    use_endpoints(settings.discord_api_url, None)
    http = RestClient(asyncio.get_running_loop())

    async def login() -> int:
        await http.close()  # an earlier attempt's session (and connector) first
        http.connector = discord.utils.MISSING
        try:
            me = await asyncio.wait_for(http.static_login(token), REQUEST_TIMEOUT)
        except discord.LoginFailure:
            raise ConfigError(TOKEN_REJECTED) from None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as error:
            raise ConfigError(
                f"could not log in to Discord's API at {Route.BASE} "
                f"({type(error).__name__}: {error}). Is Discord reachable, and DISCORD_API_URL "
                "right if it is set?"
            ) from None
        return int(me["id"])

    try:
        try:
            bot_id: int | None = await login()
        except ConfigError as problem:
            if not patient or str(problem) == TOKEN_REJECTED:
                raise
            log.warning("%s; digests to Discord wait until it answers", problem)
            bot_id = None
        yield DiscordPoster(http, bot_id, sleep=sleep, login=login)
    finally:
        await http.close()
