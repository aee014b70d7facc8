"""A fake Discord on 127.0.0.1 (REST + gateway websocket) that the real discord.py logs into.

It plays the parts of Discord a bot meets: login, application info, command sync,
the gateway handshake (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, RESUME), and
interactions. A test sends INTERACTION_CREATE for slash commands, autocomplete and
button clicks (in a guild or a DM) and awaits what the user would see. Channel
messages (with ``nonce`` + ``enforce_nonce`` within a window, and history that, like
Discord's, never shows nonces), threads on messages, scripted errors (429 with
Retry-After, 403, 404, a lost answer, a share of requests), latency and a settable
clock for message ids are there for the digest deliverer.

Shards: each gateway connection identifies as ``shard: [id, count]`` (none: [0, 1]);
it is told only of its own guilds (``(guild_id >> 22) % count``, as Discord splits them)
and gets only their events, DMs going to shard 0. Several connections (one client with
several shards, or several clients with disjoint shard ids) can be open at once.

Point discord.py at it with ``use_endpoints(fake.api_url, fake.gateway_url)``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6

# Interaction types, callback types, option types, channel types (Discord's numbers).
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE = 2, 3, 4
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT = 8
SUB_COMMAND, STRING, INTEGER, BOOLEAN, USER = 1, 3, 4, 5, 6
GUILD_TEXT, DM, GUILD_VOICE, GUILD_CATEGORY, GUILD_ANNOUNCEMENT = 0, 1, 2, 4, 5
ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD, GUILD_STAGE_VOICE = 10, 11, 12, 13
GUILD_FORUM, GUILD_MEDIA = 15, 16
THREAD_TYPES = (ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD)
# Channels whose messages may start a thread; Discord answers 50024 for the others.
THREADABLE = (GUILD_TEXT, GUILD_ANNOUNCEMENT)
# Channels that hold no messages of their own (a forum holds posts, which are threads).
NO_MESSAGES = (GUILD_CATEGORY, GUILD_FORUM, GUILD_MEDIA)

VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_CHANNELS = 1 << 4
ADMINISTRATOR = 1 << 3
MEMBER_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | (1 << 14) | (1 << 16)  # + embed, history


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


_counter = itertools.count(1)


def snowflake(at: datetime | None = None) -> int:
    """A fresh, increasing Discord id (minted at ``at``, default now)."""
    seconds = at.timestamp() if at is not None else time.time()
    ms = int(seconds * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_counter) & 0x3FFFFF)


# -- the world -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeUser:
    id: int
    name: str
    bot: bool = False
    permissions: int = MEMBER_PERMISSIONS  # in guild channels

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def member(self, permissions: int | None = None) -> dict[str, Any]:
        return {
            "user": self.payload(),
            "nick": None,
            "avatar": None,
            "roles": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
            "permissions": str(self.permissions if permissions is None else permissions),
        }


@dataclass(frozen=True)
class FakeChannel:
    id: int
    name: str
    type: int = GUILD_TEXT
    guild_id: int | None = None
    parent_id: int | None = None
    owner_id: int | None = None  # a thread's creator

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.guild_id is not None:
            out["guild_id"] = str(self.guild_id)
        if self.type in THREAD_TYPES:
            out["thread_metadata"] = {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _now_iso(),
                "locked": False,
            }
            if self.type == PRIVATE_THREAD:
                out["thread_metadata"]["invitable"] = True
            out["owner_id"] = str(self.owner_id or self.id)
            out["message_count"] = 0
            out["member_count"] = 1
            out["total_message_sent"] = 0
        elif self.type in (GUILD_VOICE, GUILD_STAGE_VOICE):
            out |= {"bitrate": 64000, "user_limit": 0, "rtc_region": None}
        elif self.type in (GUILD_FORUM, GUILD_MEDIA):
            out |= {
                "available_tags": [],
                "default_reaction_emoji": None,
                "default_sort_order": None,
            }
        return out


@dataclass
class FakeGuild:
    id: int
    name: str
    channels: list[FakeChannel]

    @property
    def channel(self) -> FakeChannel:
        return self.channels[0]

    def add_channel(
        self, name: str, kind: int = GUILD_TEXT, parent: FakeChannel | None = None
    ) -> FakeChannel:
        """Another channel of any type (before the bot connects, or it learns of it per
        interaction); a thread or forum post names its ``parent`` channel."""
        if kind in THREAD_TYPES:
            assert parent is not None, "a thread or forum post needs its parent channel"
        channel = FakeChannel(
            snowflake(), name, kind, self.id, parent.id if parent else None, self.id
        )
        self.channels.append(channel)
        return channel

    def payload(self, members: Iterable[FakeUser]) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "unavailable": False,
            "icon": None,
            "owner_id": str(next(iter(members)).id),
            "member_count": 2,
            "roles": [
                {
                    "id": str(self.id),
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "position": 0,
                    "permissions": str(MEMBER_PERMISSIONS),
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [c.payload() for c in self.channels if c.type not in THREAD_TYPES],
            "members": [u.member() for u in members],
            "threads": [c.payload() for c in self.channels if c.type in THREAD_TYPES],
            "emojis": [],
            "stickers": [],
            "features": [],
            "preferred_locale": "en-US",
            "joined_at": "2026-01-01T00:00:00+00:00",
            "large": False,
        }


def make_guild(
    name: str = "Study Group", channel: str = "general", *, shard: tuple[int, int] | None = None
) -> FakeGuild:
    """A guild with one text channel; ``shard=(id, count)``: one whose id falls in that shard."""
    guild_id = snowflake()
    if shard is not None:
        wanted, count = shard
        guild_id += (((wanted - shard_of(guild_id, count)) % count) << 22) if count > 1 else 0
    return FakeGuild(guild_id, name, [FakeChannel(snowflake(), channel, GUILD_TEXT, guild_id)])


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


@dataclass
class GatewayLink:
    """One gateway connection: the shard it identified as, and its session."""

    ws: web.WebSocketResponse
    shard_id: int = 0
    shard_count: int = 1
    session: str = ""
    seq: int = 0
    identified: bool = False


# -- Discord's limits on a message -------------------------------------------------------------


def message_problems(body: dict[str, Any]) -> list[str]:
    """Why Discord would reject this message body (400 Invalid Form Body); [] if it would not.

    The numbers are Discord's documented limits, written out here on purpose rather than
    imported from the renderer under test.
    """
    problems: list[str] = []
    if len(body.get("content") or "") > 2000:
        problems.append("content: longer than 2000")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        problems.append("embeds: more than 10")
    total = 0
    for n, embed in enumerate(embeds):
        where = f"embeds[{n}]"
        for key, limit in (("title", 256), ("description", 4096)):
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                problems.append(f"{where}.{key}: longer than {limit}")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(f"{where}.fields: more than 25")
        for m, f in enumerate(fields):
            name, value = f.get("name") or "", f.get("value") or ""
            total += len(name) + len(value)
            if not name.strip() or len(name) > 256:
                problems.append(f"{where}.fields[{m}].name: empty or longer than 256")
            if not value.strip() or len(value) > 1024:
                problems.append(f"{where}.fields[{m}].value: empty or longer than 1024")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            problems.append(f"{where}.footer.text: longer than 2048")
    if total > 6000:
        problems.append(f"embeds: {total} characters in all, more than 6000")
    rows = body.get("components") or []
    if len(rows) > 5:
        problems.append("components: more than 5 rows")
    seen: set[str] = set()
    for r, row in enumerate(rows):
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5:
            problems.append(f"components[{r}]: a row holds 1 to 5 buttons")
        for b in buttons:
            label = b.get("label") or ""
            if len(label) > 80:
                problems.append(f"button {label[:20]!r}: label longer than 80")
            if b.get("style") == 5:
                if not b.get("url") or "custom_id" in b:
                    problems.append(f"button {label!r}: a link button needs a url only")
                continue
            custom = b.get("custom_id") or ""
            if not 1 <= len(custom) <= 100:
                problems.append(f"button {label!r}: custom_id must be 1-100 characters")
            if custom in seen:
                problems.append(f"button {label!r}: custom_id {custom!r} is not unique")
            seen.add(custom)
    return problems


def _invalid(problems: list[str]) -> web.Response:
    # Discord nests errors by field; discord.py flattens any dict holding "_errors".
    errors = {"body": {"_errors": [{"code": "INVALID", "message": p} for p in problems]}}
    return json_response({"message": "Invalid Form Body", "code": 50035, "errors": errors}, 400)


# -- what a test sees --------------------------------------------------------------------------


@dataclass
class Recorded:
    """One REST request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Script:
    """A scripted answer for matching requests: an error status, a delay, or both."""

    method: str
    pattern: re.Pattern[str]
    status: int | None
    delay: float
    times: int | None  # None: forever
    retry_after: float | None
    body: dict[str, Any] | None
    chance: float = 1.0  # share of matching requests it applies to (seeded)
    drop: bool = False  # handle the request, then drop the connection: the answer is lost
    after: bool = False  # handle the request, then answer with ``status`` anyway (a 5xx)
    until: asyncio.Event | None = None  # the answer waits for this too (after ``delay``)
    hits: int = 0  # requests it has applied to

    async def wait(self) -> None:
        """Hold the answer: ``delay`` seconds, then until ``until`` is set."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.until is not None:
            await self.until.wait()

    def matches(self, method: str, path: str) -> bool:
        return (
            self.method in (method, "*")
            and self.pattern.fullmatch(path) is not None
            and (self.times is None or self.times > 0)
        )


@dataclass
class Shown:
    """What the user sees after an interaction: a message, or autocomplete choices."""

    type: int  # the callback type that produced it
    message: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    deferred: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.message and self.message.get("flags", 0) & EPHEMERAL)

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list((self.message or {}).get("embeds") or [])

    @property
    def embed(self) -> dict[str, Any]:
        return self.embeds[0]

    @property
    def title(self) -> str:
        return str(self.embed.get("title", "")) if self.embeds else ""

    @property
    def text(self) -> str:
        """Every piece of text on the message, in reading order."""
        parts: list[str] = [(self.message or {}).get("content") or ""]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            for f in embed.get("fields", []):
                parts += [f["name"], f["value"]]
            parts.append(embed.get("footer", {}).get("text", ""))
        return "\n".join(p for p in parts if p)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.message or {}).get("components") or []
        return [c for row in rows for c in row.get("components", [])]

    @property
    def labels(self) -> list[str]:
        return [b.get("label", "") for b in self.buttons]

    def button(self, label: str) -> dict[str, Any]:
        for b in self.buttons:
            if b.get("label") == label or b.get("label", "").startswith(label):
                return b
        raise AssertionError(f"no button {label!r} among {self.labels}")


@dataclass
class SentInteraction:
    """An INTERACTION_CREATE the fake sent, and the bot's responses to it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    sent_at: float = field(default_factory=time.perf_counter)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    answered_at: float | None = None
    shown: Shown | None = None
    original_id: int | None = None  # the message @original refers to
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    def _answer(self, shown: Shown) -> None:
        self.shown = shown
        if self.answered_at is None:
            self.answered_at = time.perf_counter()
        self._done.set()

    async def answer(self, timeout: float = 30.0) -> Shown:  # a safety net: busy machines
        """Wait until the user sees the answer (after a defer: the follow-up)."""
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no answer to interaction {self.id} within {timeout}s "
                f"(callbacks: {self.callbacks})"
            ) from None
        assert self.shown is not None
        return self.shown


# -- the server ---------------------------------------------------------------------------------


class FakeDiscord:
    """Discord's REST API and gateway for one bot, on 127.0.0.1 and a free port."""

    def __init__(self, *, token: str = "fake-token", guilds: Iterable[FakeGuild] | None = None):
        self.token = token
        self.application_id = snowflake()
        self.bot = FakeUser(self.application_id, "roadmap-bot", bot=True)
        self.owner = FakeUser(snowflake(), "owner")
        self.guilds = list(guilds) if guilds is not None else [make_guild()]
        self.latency = 0.0  # seconds before every REST answer
        self.requests: list[Recorded] = []
        self.unhandled: list[Recorded] = []
        self.rejected: list[tuple[Any, list[str]]] = []  # bodies Discord would refuse
        self.scripts: list[Script] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> definitions
        self.syncs: list[str] = []  # scopes, in the order they were synced
        self.messages: dict[int, dict[str, Any]] = {}
        self.threads: dict[int, dict[str, Any]] = {}  # message id -> thread channel
        # Message ids and timestamps follow this clock when set (a test's FixedClock).
        self.clock: Callable[[], datetime] | None = None
        # Discord honours enforce_nonce for "a few minutes"; after that a nonce is new again.
        self.nonce_window = 300.0
        self._nonces: dict[tuple[str, str], tuple[int, float]] = {}
        self._thread_channels: dict[int, FakeChannel] = {}
        self._dms: dict[int, FakeChannel] = {}  # DM channels a user has used with the bot
        self._by_id: dict[int, tuple[FakeGuild, FakeChannel]] = {}
        self._indexed = -1
        self._rng = random.Random(0)
        self.identifies: list[dict[str, Any]] = []
        self.resumes = 0
        self.interactions: dict[str, SentInteraction] = {}  # by token
        self._command_ids: dict[str, int] = {}
        self.links: list[GatewayLink] = []  # open gateway connections
        self._sessions: list[GatewayLink] = []  # the latest session of each shard (to resume)
        self.recommended_shards = 1  # what GET /gateway/bot recommends
        self._gateway_refusals = 0
        self._identified = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        # At the end of a test a request may still be held (a scripted delay for a worker
        # that was killed): stopping cancels it at once instead of waiting 60 s for it.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for link in list(self.links):
            if not link.ws.closed:
                await link.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def guild(self) -> FakeGuild:
        return self.guilds[0]

    # -- knobs ---------------------------------------------------------------------------

    def script(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        delay: float = 0.0,
        times: int | None = 1,
        retry_after: float | None = None,
        body: dict[str, Any] | None = None,
        chance: float = 1.0,
        drop: bool = False,
        after: bool = False,
        until: asyncio.Event | None = None,
    ) -> Script:
        """Answer the next ``times`` matching requests with ``status`` (after ``delay``).

        ``path`` is a regular expression over the path after /api/v10. With no status,
        the request is only delayed and then answered normally (or, with ``drop``,
        handled and its answer lost). ``chance`` applies it to that share of matches.
        ``after``: the request takes effect first, then waits ``delay`` and gets ``status``
        (a 500 that hides a success) or its normal answer. ``until``: the answer also
        waits for that event, so a test decides when the bot hears back.
        """
        entry = Script(
            method,
            re.compile(path),
            status,
            delay,
            times,
            retry_after,
            body,
            chance,
            drop,
            after,
            until,
        )
        self.scripts.append(entry)
        return entry

    def forget_nonces(self) -> None:
        """As if Discord's nonce window had passed for every post so far."""
        self._nonces.clear()

    def posts_in(self, channel_id: int) -> list[dict[str, Any]]:
        """The messages in a channel or thread, oldest first."""
        found = [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]
        return sorted(found, key=lambda m: int(m["id"]))

    def fail(self, method: str, path: str, status: int, **kwargs: Any) -> Script:
        return self.script(method, path, status=status, **kwargs)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    # -- gateway -----------------------------------------------------------------------

    async def wait_identified(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until the bot has sent IDENTIFY ``count`` times in all (and got READY)."""
        async with self._identified:
            await asyncio.wait_for(
                self._identified.wait_for(lambda: len(self.identifies) >= count), timeout
            )

    async def wait_resumed(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until the bot has resumed its session ``count`` times in all."""
        async with self._identified:
            await asyncio.wait_for(
                self._identified.wait_for(lambda: self.resumes >= count), timeout
            )

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a DISPATCH event to the connection of the shard that owns its guild."""
        guild = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
        await self._send(self._owner(int(guild) if guild else None), event, data)

    def _owner(self, guild_id: int | None) -> GatewayLink:
        """The open, identified connection for a guild's shard (DMs: shard 0)."""
        live = [link for link in self.links if link.identified and not link.ws.closed]
        assert live, "the bot is not connected"
        for link in reversed(live):  # the newest connection of a shard is the one in use
            wanted = shard_of(guild_id, link.shard_count) if guild_id is not None else 0
            if link.shard_id == wanted:
                return link
        shards = sorted(link.shard_id for link in live)
        raise AssertionError(f"no connection owns the shard of guild {guild_id} (open: {shards})")

    async def _send(self, link: GatewayLink, event: str, data: dict[str, Any]) -> None:
        link.seq += 1
        await link.ws.send_str(json.dumps({"op": 0, "t": event, "s": link.seq, "d": data}))

    def shard_identifies(self) -> list[tuple[int, int]]:
        """(shard id, shard count) of every IDENTIFY so far."""
        return [tuple(d.get("shard") or (0, 1)) for d in self.identifies]  # type: ignore[misc]

    async def send_raw(self, frame: str) -> None:
        """Send a text frame as it is (e.g. one that is not JSON) on every open connection."""
        for link in list(self.links):
            if not link.ws.closed:
                await link.ws.send_str(frame)

    async def drop_connection(self, code: int = 4000) -> None:
        """Close every gateway connection from Discord's side (the bot resumes)."""
        for link in list(self.links):
            await link.ws.close(code=code)

    def refuse_gateway(self, times: int = 1) -> None:
        """Answer the next ``times`` gateway connections with 503 instead of a websocket."""
        self._gateway_refusals = times

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self._gateway_refusals > 0:
            self._gateway_refusals -= 1
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        link = GatewayLink(ws)
        self.links.append(link)
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    await self._identify(link, frame["d"])
                elif op == 6:
                    await self._resume(link, frame["d"])
        finally:
            self.links.remove(link)
        return ws

    async def _resume(self, link: GatewayLink, data: dict[str, Any]) -> None:
        resumed = next(
            (old for old in self._sessions if old.session == data.get("session_id")), None
        )
        if resumed is None:
            await link.ws.send_str(json.dumps({"op": 9, "d": False}))
            return
        link.shard_id, link.shard_count = resumed.shard_id, resumed.shard_count
        link.session, link.seq, link.identified = resumed.session, resumed.seq, True
        self._sessions = [old for old in self._sessions if old is not resumed] + [link]
        await self._send(link, "RESUMED", {})
        async with self._identified:
            self.resumes += 1
            self._identified.notify_all()

    async def _identify(self, link: GatewayLink, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await link.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard_id, shard_count = data.get("shard") or (0, 1)
        if not 0 <= shard_id < shard_count:
            await link.ws.close(code=4010, message=b"Invalid shard.")
            return
        link.shard_id, link.shard_count = shard_id, shard_count
        link.seq, link.identified = 0, True
        link.session = f"session-{snowflake()}"
        self._sessions = [old for old in self._sessions if old.shard_id != shard_id] + [link]
        members = [self.owner, self.bot]
        mine = [g for g in self.guilds if shard_of(g.id, shard_count) == shard_id]
        await self._send(
            link,
            "READY",
            {
                "v": 10,
                "user": {**self.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in mine],
                "session_id": link.session,
                "resume_gateway_url": self.gateway_url,
                "shard": [shard_id, shard_count],
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
            },
        )
        for guild in mine:
            await self._send(link, "GUILD_CREATE", guild.payload(members))
        async with self._identified:
            self.identifies.append(data)
            self._identified.notify_all()

    # -- interactions ------------------------------------------------------------------

    def command(self, name: str = "roadmap", guild: FakeGuild | None = None) -> dict[str, Any]:
        """The registered definition a user would pick in that guild (or a DM)."""
        scopes = ([str(guild.id)] if guild else []) + ["global"]
        for scope in scopes:
            for definition in self.commands.get(scope, []):
                if definition["name"] == name:
                    return {**definition, "_scope": scope}
        where = f"guild {guild.id}" if guild else "DMs"
        raise AssertionError(f"/{name} is not registered for {where}: synced {self.syncs}")

    async def slash(
        self,
        subcommand: str,
        options: dict[str, Any] | None = None,
        *,
        user: FakeUser,
        guild: FakeGuild | None = None,
        dm: bool = False,
        permissions: int | None = None,
        resolved_users: Iterable[FakeUser] = (),
        channel: FakeChannel | None = None,
    ) -> SentInteraction:
        """A user runs ``/roadmap <subcommand>`` with ``options`` (in a guild, or a DM).

        In a guild it runs in ``channel`` (default: the guild's first channel).
        """
        return await self._command_interaction(
            APPLICATION_COMMAND,
            subcommand,
            options or {},
            None,
            user,
            guild,
            dm,
            permissions,
            resolved_users,
            channel,
        )

    async def autocomplete(
        self,
        subcommand: str,
        option: str,
        typed: str,
        *,
        user: FakeUser,
        guild: FakeGuild | None = None,
        dm: bool = False,
    ) -> SentInteraction:
        """A user types ``typed`` into an autocompleted option."""
        return await self._command_interaction(
            AUTOCOMPLETE, subcommand, {option: typed}, option, user, guild, dm, None, (), None
        )

    async def click(
        self,
        message: dict[str, Any] | Shown,
        label: str,
        *,
        user: FakeUser,
        permissions: int | None = None,
    ) -> SentInteraction:
        """A user clicks the button labelled ``label`` on a message the bot sent."""
        if isinstance(message, Shown):
            assert message.message is not None
            message = message.message
        current = self.messages.get(int(message["id"]), message)
        shown = Shown(CHANNEL_MESSAGE, current)
        button = shown.button(label)
        assert "custom_id" in button, f"{label!r} is a link button: {button.get('url')}"
        guild = self._guild_of(int(current["channel_id"]))
        data = {"custom_id": button["custom_id"], "component_type": 2}
        return await self._interaction(
            MESSAGE_COMPONENT, data, user, guild, guild is None, permissions, current
        )

    async def _command_interaction(
        self,
        kind: int,
        subcommand: str,
        values: dict[str, Any],
        focused: str | None,
        user: FakeUser,
        guild: FakeGuild | None,
        dm: bool,
        permissions: int | None,
        resolved_users: Iterable[FakeUser],
        channel: FakeChannel | None,
    ) -> SentInteraction:
        guild = None if dm else (guild or self.guild)
        definition = self.command("roadmap", guild)
        sub = next((o for o in definition.get("options", []) if o["name"] == subcommand), None)
        assert sub is not None and sub["type"] == SUB_COMMAND, f"no /roadmap {subcommand}"
        declared = {o["name"]: o for o in sub.get("options", [])}
        options = []
        for name, value in values.items():
            assert name in declared, (
                f"/roadmap {subcommand} has no option {name!r}: {list(declared)}"
            )
            option: dict[str, Any] = {"name": name, "type": declared[name]["type"], "value": value}
            if name == focused:
                option["focused"] = True
            options.append(option)
        missing = [n for n, o in declared.items() if o.get("required") and n not in values]
        assert kind == AUTOCOMPLETE or not missing, f"missing required options {missing}"
        data: dict[str, Any] = {
            "id": str(self._command_ids[definition["name"]]),
            "name": definition["name"],
            "type": 1,
            "options": [{"name": subcommand, "type": SUB_COMMAND, "options": options}],
        }
        if definition["_scope"] != "global":
            data["guild_id"] = definition["_scope"]
        users = list(resolved_users)
        if users:
            data["resolved"] = {"users": {str(u.id): u.payload() for u in users}}
            if guild is not None:
                data["resolved"]["members"] = {
                    str(u.id): {k: v for k, v in u.member().items() if k != "user"} for u in users
                }
        return await self._interaction(kind, data, user, guild, dm, permissions, None, channel)

    async def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        user: FakeUser,
        guild: FakeGuild | None,
        dm: bool,
        permissions: int | None,
        message: dict[str, Any] | None,
        where: FakeChannel | None = None,
    ) -> SentInteraction:
        interaction_id = snowflake()
        token = f"interaction-token-{interaction_id}"
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "app_permissions": str(MEMBER_PERMISSIONS),
        }
        if guild is not None and not dm:
            channel = where or guild.channel
            if message is not None:
                channel = next(
                    (c for c in guild.channels if c.id == int(message["channel_id"])), channel
                )
            payload |= {
                "guild_id": str(guild.id),
                "guild_locale": "en-US",
                "channel_id": str(channel.id),
                "channel": channel.payload(),
                "member": user.member(permissions),
                "context": 0,
                "authorizing_integration_owners": {"0": str(guild.id)},
            }
        else:
            channel_id = int(message["channel_id"]) if message else self._dm_channel(user)
            payload |= {
                "channel_id": str(channel_id),
                "channel": {
                    "id": str(channel_id),
                    "type": DM,
                    "recipients": [user.payload()],
                    "last_message_id": None,
                    "flags": 0,
                },
                "user": user.payload(),
                "context": 1,
                "authorizing_integration_owners": {"0": "0"},
            }
        if message is not None:
            payload["message"] = message
        sent = SentInteraction(interaction_id, token, kind, payload)
        if message is not None:
            sent.original_id = int(message["id"])
        self.interactions[token] = sent
        await self.dispatch("INTERACTION_CREATE", payload)
        return sent

    async def send_interaction(self, payload: dict[str, Any]) -> SentInteraction:
        """Send an INTERACTION_CREATE exactly as given (a fixture's shape, not the fake's
        own) and record the bot's answers to it like any other."""
        sent = SentInteraction(int(payload["id"]), payload["token"], payload["type"], payload)
        if isinstance(payload.get("message"), dict):
            sent.original_id = int(payload["message"]["id"])
        self.interactions[sent.token] = sent
        await self.dispatch("INTERACTION_CREATE", payload)
        return sent

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between ``user`` and the bot."""
        return self._dms[self._dm_channel(user)]

    def _dm_channel(self, user: FakeUser) -> int:
        channel_id = user.id + 1  # stable per user, never a guild channel id
        self._dms.setdefault(channel_id, FakeChannel(channel_id, user.name, DM))
        return channel_id

    def _guild_channels(self) -> dict[int, tuple[FakeGuild, FakeChannel]]:
        # Indexed, and re-indexed when channels are added: a bench has thousands.
        count = sum(len(g.channels) for g in self.guilds)
        if count != self._indexed:
            self._by_id = {c.id: (g, c) for g in self.guilds for c in g.channels}
            self._indexed = count
        return self._by_id

    def _guild_of(self, channel_id: int) -> FakeGuild | None:
        thread = self._thread_channels.get(channel_id)
        if thread is not None:
            channel_id = thread.parent_id or channel_id
        found = self._guild_channels().get(channel_id)
        return found[0] if found else None

    # -- REST ------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            is_json = request.content_type == "application/json" and raw
            body = json.loads(raw) if is_json else raw
        record = Recorded(request.method, path, dict(request.query), body, dict(request.headers))
        self.requests.append(record)
        if self.latency:
            await asyncio.sleep(self.latency)
        drop = False
        for script in self.scripts:
            if script.matches(request.method, path):
                if script.chance < 1.0 and self._rng.random() >= script.chance:
                    continue
                if script.times is not None:
                    script.times -= 1
                script.hits += 1
                if script.after:  # the request takes effect, then the delay and the answer
                    effect = await self._answer(request, body, path, record)
                    await script.wait()
                    return self._scripted(script) if script.status is not None else effect
                await script.wait()
                if script.status is not None:
                    return self._scripted(script)
                drop = script.drop
                break
        if drop:
            await self._answer(request, body, path, record)
            # The request took effect; the bot never hears back.
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=204)
        return await self._answer(request, body, path, record)

    async def _answer(
        self, request: web.Request, body: Any, path: str, record: Recorded
    ) -> web.Response:
        if path.startswith(("/interactions/", "/webhooks/")):
            pass  # interaction tokens authorize these, not the bot token
        elif request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        for method, pattern, handler in self._routes():
            match = pattern.fullmatch(path)
            if method == request.method and match:
                return await handler(request, body, *match.groups())
        self.unhandled.append(record)
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    def _scripted(self, script: Script) -> web.Response:
        status = script.status or 500
        headers: dict[str, str] = {}
        defaults = {
            403: {"message": "Missing Access", "code": 50001},
            404: {"message": "Unknown Channel", "code": 10003},
            429: {"message": "You are being rate limited.", "global": False},
        }
        body = dict(script.body or defaults.get(status, {"message": "Server error", "code": 0}))
        if status == 429:
            retry = script.retry_after if script.retry_after is not None else 0.01
            body.setdefault("retry_after", retry)
            headers["Retry-After"] = str(retry)
            headers["X-RateLimit-Scope"] = "user"
            headers["Via"] = "1.1 google"  # discord.py treats a 429 without Via as a ban
        return json_response(body, status, headers)

    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Any]]]:
        app = r"(\d+)"
        token = r"([^/]+)"
        return [
            ("GET", re.compile(r"/users/@me"), self._me),
            ("GET", re.compile(r"/oauth2/applications/@me"), self._application),
            ("GET", re.compile(r"/gateway(?:/bot)?"), self._gateway_info),
            ("PUT", re.compile(rf"/applications/{app}/commands"), self._put_global),
            ("PUT", re.compile(rf"/applications/{app}/guilds/(\d+)/commands"), self._put_guild),
            ("GET", re.compile(rf"/applications/{app}/commands"), self._get_global),
            ("POST", re.compile(rf"/interactions/(\d+)/{token}/callback"), self._callback),
            ("POST", re.compile(rf"/webhooks/{app}/{token}"), self._followup),
            (
                "PATCH",
                re.compile(rf"/webhooks/{app}/{token}/messages/@original"),
                self._edit_original,
            ),
            (
                "DELETE",
                re.compile(rf"/webhooks/{app}/{token}/messages/@original"),
                self._delete_original,
            ),
            ("GET", re.compile(r"/channels/(\d+)"), self._get_channel),
            ("POST", re.compile(r"/channels/(\d+)/messages"), self._create_message),
            ("GET", re.compile(r"/channels/(\d+)/messages"), self._list_messages),
            ("GET", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._get_message),
            ("PATCH", re.compile(r"/channels/(\d+)/messages/(\d+)"), self._edit_message),
            ("POST", re.compile(r"/channels/(\d+)/messages/(\d+)/threads"), self._start_thread),
        ]

    async def _me(self, request: web.Request, body: Any) -> web.Response:
        return json_response({**self.bot.payload(), "verified": True, "mfa_enabled": False})

    async def _application(self, request: web.Request, body: Any) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": self.bot.name,
                "icon": None,
                "description": "",
                "summary": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.owner.payload(),
                "verify_key": "0" * 64,
                "flags": 0,
                "team": None,
                "rpc_origins": [],
            }
        )

    async def _gateway_info(self, request: web.Request, body: Any) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    def _register(self, scope: str, definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored = []
        for definition in definitions:
            command_id = self._command_ids.setdefault(definition["name"], snowflake())
            entry = {
                **definition,
                "id": str(command_id),
                "application_id": str(self.application_id),
                "version": str(snowflake()),
                "default_member_permissions": definition.get("default_member_permissions"),
            }
            if scope != "global":
                entry["guild_id"] = scope
            stored.append(entry)
        self.commands[scope] = stored
        self.syncs.append(scope)
        return stored

    async def _put_global(self, request: web.Request, body: Any, app: str) -> web.Response:
        return json_response(self._register("global", body))

    async def _put_guild(
        self, request: web.Request, body: Any, app: str, guild: str
    ) -> web.Response:
        if not any(str(g.id) == guild for g in self.guilds):
            return json_response({"message": "Missing Access", "code": 50001}, 403)
        return json_response(self._register(guild, body))

    async def _get_global(self, request: web.Request, body: Any, app: str) -> web.Response:
        return json_response(self.commands.get("global", []))

    def _message(
        self,
        channel_id: int,
        body: dict[str, Any],
        *,
        flags: int = 0,
        message_type: int = 0,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        guild = self._guild_of(channel_id)
        now = self.clock() if self.clock is not None else datetime.now(UTC)
        message: dict[str, Any] = {
            "id": str(message_id or snowflake(now)),
            "channel_id": str(channel_id),
            "author": self.bot.payload(),
            "content": body.get("content") or "",
            "timestamp": now.isoformat(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": message_type,
            "flags": flags,
        }
        if guild is not None:
            message["guild_id"] = str(guild.id)
        reference = body.get("message_reference")
        if reference:
            message["type"] = 19  # a reply
            message["message_reference"] = {
                "message_id": str(reference["message_id"]),
                "channel_id": str(channel_id),
            }
        # No nonce on the stored message: Discord echoes it only in the answer to the post.
        self.messages[int(message["id"])] = message
        return message

    def _edit(self, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        message = dict(self.messages[message_id])
        for key in ("content", "embeds", "components"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["edited_timestamp"] = _now_iso()
        message["flags"] = message.get("flags", 0) & ~(1 << 7)  # no longer "loading"
        self.messages[message_id] = message
        return message

    async def _callback(
        self, request: web.Request, body: Any, interaction_id: str, token: str
    ) -> web.Response:
        sent = self.interactions.get(token)
        if sent is None or str(sent.id) != interaction_id:
            return json_response({"message": "Unknown interaction", "code": 10062}, 404)
        if sent.callbacks:
            return json_response(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
            )
        kind = body["type"]
        data = body.get("data") or {}
        if kind in (CHANNEL_MESSAGE, UPDATE_MESSAGE) and (problems := message_problems(data)):
            self.rejected.append((body, problems))
            return _invalid(problems)
        sent.callbacks.append(body)
        channel_id = int(sent.payload["channel_id"])
        resource: dict[str, Any] | None = None
        ephemeral = bool(data.get("flags", 0) & EPHEMERAL)
        if kind == CHANNEL_MESSAGE:
            message = self._message(channel_id, data, flags=data.get("flags", 0), message_type=20)
            sent.original_id = int(message["id"])
            sent._answer(Shown(kind, message))
            resource = {"type": kind, "message": message}
        elif kind == UPDATE_MESSAGE:
            assert sent.original_id is not None, "UPDATE_MESSAGE needs a component's message"
            message = self._edit(sent.original_id, data)
            ephemeral = bool(message.get("flags", 0) & EPHEMERAL)
            sent._answer(Shown(kind, message))
            resource = {"type": kind, "message": message}
        elif kind == DEFERRED_CHANNEL_MESSAGE:
            message = self._message(
                channel_id, {}, flags=data.get("flags", 0) | (1 << 7), message_type=20
            )
            sent.original_id = int(message["id"])
            sent.answered_at = time.perf_counter()  # the user sees "thinking…"
            resource = {"type": kind, "message": message}
        elif kind == DEFERRED_UPDATE:
            sent.answered_at = time.perf_counter()
        elif kind == AUTOCOMPLETE_RESULT:
            sent._answer(Shown(kind, choices=list(data.get("choices", []))))
        response: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": sent.type,
                "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": ephemeral,
            }
        }
        if resource is not None:
            response["interaction"]["response_message_id"] = resource["message"]["id"]
            response["resource"] = resource
        return json_response(response)

    async def _followup(
        self, request: web.Request, body: Any, app: str, token: str
    ) -> web.Response:
        sent = self.interactions.get(token)
        if sent is None or not sent.callbacks:
            return json_response({"message": "Unknown Webhook", "code": 10015}, 404)
        if problems := message_problems(body):
            self.rejected.append((body, problems))
            return _invalid(problems)
        sent.followups.append(body)
        first = sent.callbacks[0]
        if first["type"] == DEFERRED_CHANNEL_MESSAGE and sent.shown is None and sent.original_id:
            # The first follow-up after a defer replaces the "thinking…" message.
            message = self._edit(sent.original_id, body)
        else:
            channel_id = int(sent.payload["channel_id"])
            message = self._message(channel_id, body, flags=body.get("flags", 0))
        sent._answer(Shown(first["type"], message, deferred=True))
        return json_response(message)

    async def _edit_original(
        self, request: web.Request, body: Any, app: str, token: str
    ) -> web.Response:
        sent = self.interactions.get(token)
        if sent is None or sent.original_id is None:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        if problems := message_problems(body):
            self.rejected.append((body, problems))
            return _invalid(problems)
        message = self._edit(sent.original_id, body)
        sent._answer(Shown(sent.callbacks[0]["type"], message, deferred=True))
        return json_response(message)

    async def _delete_original(
        self, request: web.Request, body: Any, app: str, token: str
    ) -> web.Response:
        sent = self.interactions.get(token)
        if sent is None or sent.original_id is None or sent.original_id not in self.messages:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        del self.messages[sent.original_id]
        sent.original_id = None
        return web.Response(status=204)

    def _channel(self, channel_id: int) -> FakeChannel | None:
        if channel_id in self._thread_channels:
            return self._thread_channels[channel_id]
        if channel_id in self._dms:
            return self._dms[channel_id]
        found = self._guild_channels().get(channel_id)
        return found[1] if found else None

    async def _get_channel(self, request: web.Request, body: Any, channel: str) -> web.Response:
        found = self._channel(int(channel))
        if found is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        return json_response(found.payload())

    async def _create_message(self, request: web.Request, body: Any, channel: str) -> web.Response:
        found = self._channel(int(channel))
        if found is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        if found.type in NO_MESSAGES:
            return json_response(
                {"message": "Cannot send messages in a non-text channel", "code": 50008}, 400
            )
        if problems := message_problems(body):
            self.rejected.append((body, problems))
            return _invalid(problems)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            # Discord returns the earlier message for a nonce repeated within its window.
            seen = self._nonces.get((channel, str(nonce)))
            if seen is not None and time.monotonic() - seen[1] <= self.nonce_window:
                earlier = self.messages.get(seen[0])
                if earlier is not None:
                    return json_response({**earlier, "nonce": nonce})
        message = self._message(int(channel), body)
        if nonce is not None:
            self._nonces[(channel, str(nonce))] = (int(message["id"]), time.monotonic())
            return json_response({**message, "nonce": nonce})
        return json_response(message)

    async def _list_messages(self, request: web.Request, body: Any, channel: str) -> web.Response:
        if self._channel(int(channel)) is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        limit = min(int(request.query.get("limit", 50)), 100)
        found = [m for m in self.messages.values() if m["channel_id"] == channel]
        found.sort(key=lambda m: int(m["id"]), reverse=True)  # newest first, like Discord
        if "before" in request.query:
            found = [m for m in found if int(m["id"]) < int(request.query["before"])]
        if "after" in request.query:
            # The ``limit`` messages right after the id (the oldest of them), newest first.
            found = [m for m in found if int(m["id"]) > int(request.query["after"])]
            return json_response(found[-limit:])
        return json_response(found[:limit])

    async def _get_message(
        self, request: web.Request, body: Any, channel: str, message: str
    ) -> web.Response:
        found = self.messages.get(int(message))
        if found is None or found["channel_id"] != channel:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        return json_response(found)

    async def _edit_message(
        self, request: web.Request, body: Any, channel: str, message: str
    ) -> web.Response:
        if int(message) not in self.messages:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        return json_response(self._edit(int(message), body))

    async def _start_thread(
        self, request: web.Request, body: Any, channel: str, message: str
    ) -> web.Response:
        parent = self._channel(int(channel))
        if parent is None or int(message) not in self.messages:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        if parent.type not in THREADABLE:  # a thread, forum post, voice or stage chat, DM
            return json_response(
                {"message": "Cannot execute action on this channel type", "code": 50024}, 400
            )
        if int(message) in self.threads:
            return json_response(
                {"message": "A thread has already been created for this message", "code": 160004},
                400,
            )
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            return _invalid([f"name: {len(name)} characters, must be 1 to 100"])
        # A thread started on a message has the message's id.
        kind = ANNOUNCEMENT_THREAD if parent.type == GUILD_ANNOUNCEMENT else PUBLIC_THREAD
        thread = FakeChannel(int(message), name, kind, parent.guild_id, parent.id, self.bot.id)
        payload = thread.payload()
        self._thread_channels[thread.id] = thread
        self.threads[int(message)] = payload
        self.messages[int(message)]["thread"] = payload
        return json_response(payload, 201)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """discord.py parses a body as JSON only for exactly 'application/json'."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
