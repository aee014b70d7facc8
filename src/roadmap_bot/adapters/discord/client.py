"""The discord.py client: logs in, registers the persistent buttons, syncs /roadmap.

Commands are synced to ``DISCORD_GUILD_ID`` when set (instant, for development) or
globally, and only when their definitions changed since the last sync: the hash of
what was sent is kept in the store, so restarts do not spend Discord's sync quota.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from roadmap_bot.adapters.discord.autocomplete import Completer
from roadmap_bot.adapters.discord.commands import RoadmapGroup
from roadmap_bot.adapters.discord.embeds import CUSTOM_ID_RE
from roadmap_bot.adapters.discord.interactions import DEFER_AFTER, Responder
from roadmap_bot.adapters.discord.views import RoadmapButton
from roadmap_bot.adapters.supervisor import AdapterState, describe
from roadmap_bot.app import App
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

# What the bot needs in a channel: answer, post shared cards and weekly digests, and
# open a discussion thread on a digest.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
SYNC_KEY = "discord.commands.{application}.{scope}"
TOKEN_REJECTED = (
    "DISCORD_TOKEN was rejected by Discord: copy the bot token again from the "
    "Developer Portal (Bot > Reset Token)"
)
# Gateway close codes that no reconnect can cure: the settings must change.
FATAL_CLOSE = {
    4004: TOKEN_REJECTED,
    4010: "Discord refused the shard: check DISCORD_SHARD_COUNT and DISCORD_SHARD_IDS",
    4011: "Discord requires sharding for this bot: set DISCORD_SHARD_COUNT (e.g. auto)",
    4012: "Discord refused the gateway version: upgrade discord.py",
    4013: "Discord refused the gateway intents the bot asked for",
    4014: "Discord refused privileged gateway intents: the bot needs none; upgrade roadmap-bot",
}


class OneLineReconnects(logging.Filter):
    """discord.py logs each gateway reconnect it makes by itself ('Attempting a reconnect
    in 1.23s') at ERROR with the whole traceback. What failed fits on the line: a
    WARNING naming it (its type, close code or HTTP status and where), no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if failure is not None and str(record.msg).startswith("Attempting a reconnect"):
            record.msg = f"{record.getMessage()} after {describe(failure)}"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


for _name in ("discord.client", "discord.shard"):
    logging.getLogger(_name).addFilter(OneLineReconnects())


def use_endpoints(api_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another REST base and gateway (a proxy, or a test's fake).

    discord.py keeps both as class attributes, so this is process-wide by nature.
    """
    if api_url:
        Route.BASE = api_url.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def invite_url(application_id: int) -> str:
    """The URL that adds the bot to a server with the scopes and permissions it needs."""
    return discord.utils.oauth_url(
        application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES
    )


def commands_hash(payload: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class RoadmapClient(discord.Client):
    """roadmap-bot on Discord: /roadmap commands, autocomplete and persistent buttons."""

    def __init__(
        self,
        roadmap: Roadmap,
        *,
        guild_id: int | None = None,
        defer_after: float = DEFER_AFTER,
        status: AdapterState | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("intents", discord.Intents(guilds=True))
        # Nothing the bot echoes (names, search text) may ping anyone.
        options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        super().__init__(**options)
        self.roadmap = roadmap
        self.guild = discord.Object(id=guild_id) if guild_id else None
        self.responder = Responder(roadmap, defer_after)
        self.completer = Completer(roadmap.catalog)
        self.tree: app_commands.CommandTree[RoadmapClient] = app_commands.CommandTree(self)
        self.tree.on_error = self._on_command_error  # type: ignore[method-assign]
        self.tree.add_command(RoadmapGroup(self.responder, self.completer), guild=self.guild)
        self.synced: bool | None = None  # after setup: whether this start synced commands
        self.adapter_state = status or AdapterState("discord")  # for /healthz
        _guard_parsers(self._connection.parsers)

    # discord.py reconnects a dropped gateway by itself; /healthz follows along. 'connect'
    # comes with READY (interactions are answered from then on), 'ready' only once the
    # guilds have streamed in.
    async def on_connect(self) -> None:
        self.adapter_state.connected()

    async def on_resumed(self) -> None:
        self.adapter_state.connected()

    async def on_disconnect(self) -> None:
        self.adapter_state.disconnected()

    async def setup_hook(self) -> None:
        # Registered before the gateway connects, so no click is ever missed.
        self.add_dynamic_items(RoadmapButton)
        self.synced = await self.sync_commands()
        if self.application_id is not None:
            log.info("invite the bot with: %s", invite_url(self.application_id))

    def command_payload(self) -> list[dict[str, Any]]:
        """The command definitions as they are sent to Discord."""
        return [c.to_dict(self.tree) for c in self.tree.get_commands(guild=self.guild)]

    async def sync_commands(self) -> bool:
        """Sync /roadmap when its definitions changed; True when a sync was made."""
        scope = str(self.guild.id) if self.guild else "global"
        key = SYNC_KEY.format(application=self.application_id, scope=scope)
        digest = commands_hash(self.command_payload())
        store = self.roadmap.store
        if await store.get_meta(key) == digest:
            log.info("Discord commands unchanged since the last sync (%s): not syncing", scope)
            return False
        try:
            await self.tree.sync(guild=self.guild)
        except discord.HTTPException as exc:
            # Keep serving: commands synced earlier still work. Say how to fix it.
            log.error(
                "syncing Discord commands (%s) failed: %s. Is the bot in that server, invited "
                "with the applications.commands scope? Invite URL: %s",
                scope,
                exc,
                invite_url(self.application_id) if self.application_id else "(unknown)",
            )
            return False
        await store.set_meta(key, digest)
        log.info("synced Discord commands (%s)", scope)
        return True

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        # discord.py drops a click no view or dynamic item matches: Discord would show
        # "This interaction failed". Ours all match CUSTOM_ID_RE; anything else is stale.
        if interaction.type is not discord.InteractionType.component:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if not CUSTOM_ID_RE.fullmatch(custom_id):
            await self.responder.stale(interaction, f"custom_id {custom_id[:100]!r}")

    async def _on_command_error(
        self, interaction: discord.Interaction[Any], err: app_commands.AppCommandError
    ) -> None:
        # A command shape from before the last sync (a removed subcommand, changed
        # options) is no bug of ours: one WARNING line and the stale answer. A failure
        # inside a command is (the core's own failures are answered in Responder).
        if isinstance(err, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            name = interaction.command.qualified_name if interaction.command else ""
            await self.responder.stale(interaction, f"command shape {name or err}")
            return
        if isinstance(err, app_commands.CommandInvokeError):
            log.error("app command failed: %s", err, exc_info=err)
        else:
            log.warning("app command refused: %s: %s", type(err).__name__, err)
        if interaction.response.is_done():
            return
        await interaction.response.send_message(
            "Sorry, I could not run that. Try `/roadmap help`.", ephemeral=True
        )


def _guard_parsers(parsers: dict[str, Callable[[Any], None]]) -> None:
    """Make every gateway event parser skip an event it cannot read instead of raising.

    discord.py runs the parser inside the gateway's read loop: an event it cannot read
    (a field it expects is missing) would raise out of ``Client.start`` and end ``serve``,
    Slack and the digest scheduler with it. Skipped, it costs that one event; one WARNING
    line names its type (never its payload, which carries interaction tokens).
    """
    for event, parse in list(parsers.items()):
        parsers[event] = _guarded(event, parse)


def _guarded(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    def guarded(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:  # one bad event must not stop the client
            kind = data.get("type") if isinstance(data, dict) else None
            shape = f" (type {kind})" if isinstance(kind, int) else ""
            log.warning(
                "skipped a Discord %s event%s that could not be read: %s",
                event,
                shape,
                _problem(exc),
            )

    return guarded


def _problem(exc: Exception) -> str:
    """What went wrong, without values from the payload: a KeyError names the field."""
    if isinstance(exc, KeyError) and exc.args:
        return f"no field {exc.args[0]!r}"
    return type(exc).__name__


class ShardedRoadmapClient(RoadmapClient, discord.AutoShardedClient):
    """The same bot over several gateway connections, one per shard it owns.

    Discord sends a guild's events only to shard ``(guild_id >> 22) % shard_count``, so
    replicas that own disjoint shard ids never see, let alone answer, the same
    interaction. Replies and digests go over REST, which any shard may use.
    """

    # Discord allows one IDENTIFY per 5 seconds (per max_concurrency bucket); tests that
    # talk to a fake gateway set it to 0.
    identify_spacing = 5.0

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial:
            await asyncio.sleep(self.identify_spacing)

    async def on_shard_ready(self, shard_id: int) -> None:
        log.info("Discord shard %d of %s connected", shard_id, self.shard_count)

    # /healthz follows each shard: 'ok' once every shard this replica owns is connected.
    async def on_connect(self) -> None:
        pass  # the per-shard events below say more

    async def on_resumed(self) -> None:
        pass

    async def on_disconnect(self) -> None:
        pass

    async def on_shard_connect(self, shard_id: int) -> None:
        self._shard_up(shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._shard_up(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._shards_up().discard(shard_id)
        self._report_shards()

    _up: set[int] | None = None  # the shards connected now (set on first use)

    def _shards_up(self) -> set[int]:
        if self._up is None:
            self._up = set()
        return self._up

    def _shard_up(self, shard_id: int) -> None:
        self._shards_up().add(shard_id)
        self._report_shards()

    def _report_shards(self) -> None:
        owned = set(self.shard_ids or range(self.shard_count or 1))
        down = sorted(owned - self._shards_up())
        if not down:
            self.adapter_state.connected()
        elif self.adapter_state.phase in ("ok", "connecting"):
            shards = ", ".join(map(str, down))
            self.adapter_state.disconnected(f"shard {shards} of {self.shard_count}")


def make_client(roadmap: Roadmap, settings: Settings, **options: Any) -> RoadmapClient:
    """The client the settings ask for: unsharded (no DISCORD_SHARD_COUNT), or the
    shards this replica owns (DISCORD_SHARD_COUNT=N with DISCORD_SHARD_IDS, or all N),
    or as many as Discord recommends (DISCORD_SHARD_COUNT=auto)."""
    problem = settings.shard_problem()
    if problem is not None:
        raise ConfigError(f"bad configuration:\n  {problem}")
    options.setdefault("guild_id", settings.discord_guild_id)
    count = settings.discord_shard_count
    if count is None:
        return RoadmapClient(roadmap, **options)
    if count != "auto":
        options |= {"shard_count": count, "shard_ids": settings.discord_shard_ids}
    return ShardedRoadmapClient(roadmap, **options)


async def run(app: App) -> None:
    """Run the client with the app's settings until cancelled."""
    settings = app.settings
    if settings.discord_token is None:
        raise ConfigError("DISCORD_TOKEN is not set")
    use_endpoints(settings.discord_api_url, settings.discord_gateway_url)
    # A new client each time: serve's supervisor starts this again after a failure, and
    # a discord.py client that stopped cannot start again.
    client = make_client(app.roadmap, settings, status=app.adapters["discord"])
    async with client:
        try:
            await client.start(settings.discord_token.get_secret_value())
        except discord.LoginFailure:
            raise ConfigError(TOKEN_REJECTED) from None
        except discord.PrivilegedIntentsRequired:
            raise ConfigError(FATAL_CLOSE[4014]) from None
        except discord.ConnectionClosed as closed:
            if closed.code in FATAL_CLOSE:
                raise ConfigError(
                    f"{FATAL_CLOSE[closed.code]} (close code {closed.code})"
                ) from None
            raise
