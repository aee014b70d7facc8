"""From an interaction to the core and back: who asks, where, and how the answer is sent.

Answers go to the asker only (ephemeral) unless the reply is public or being shared.
When the core takes longer than ``defer_after`` seconds, the interaction is deferred
first, so Discord's three-second window never expires.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any

import discord

from roadmap_bot.adapters.discord.embeds import (
    ButtonKind,
    Message,
    Options,
    render,
)
from roadmap_bot.adapters.discord.views import to_discord
from roadmap_bot.chat.commands import Command, Subscribe
from roadmap_bot.chat.core import Asker, Profile, Roadmap
from roadmap_bot.chat.failures import failure_reply
from roadmap_bot.chat.render_text import pages_by_grammar
from roadmap_bot.chat.replies import STALE_BUTTON, Reply, error
from roadmap_bot.chat.shared import for_everyone

log = logging.getLogger(__name__)

DEFER_AFTER = 2.0  # seconds; Discord allows three for the first response
DM = "dm"
_MENTION_RE = re.compile(r"<@!?(\d+)>|(\d{15,21})")

AnyInteraction = discord.Interaction[Any]

# Channels that hold no messages of their own, so no weekly digest: a forum or media
# channel holds posts (each a thread, where a digest works), a category holds channels.
_NO_MESSAGES = {
    discord.ChannelType.forum: "A forum channel",
    discord.ChannelType.media: "A media channel",
    discord.ChannelType.category: "A category",
}


class How(Enum):
    NEW = "new"  # a new message (ephemeral unless the reply is public)
    UPDATE = "update"  # replace the message whose button was clicked
    SHARE = "share"  # a new message everyone in the channel sees


def scope_of(interaction: AnyInteraction) -> str:
    """The workspace part of an id: the guild, or 'dm' outside one."""
    return str(interaction.guild_id) if interaction.guild_id else DM


def user_id(interaction: AnyInteraction) -> str:
    return f"discord:{scope_of(interaction)}:{interaction.user.id}"


def _resolver(scope: str, known: Mapping[str, int]) -> Callable[[str], str | None]:
    def resolve(text: str) -> str | None:
        text = text.strip()
        match = _MENTION_RE.fullmatch(text)
        if match:
            return f"discord:{scope}:{match.group(1) or match.group(2)}"
        found = known.get(text.lstrip("@").casefold())
        return f"discord:{scope}:{found}" if found is not None else None

    return resolve


def asker_for(interaction: AnyInteraction, known: Mapping[str, int] | None = None) -> Asker:
    """The Asker for an interaction; ``known`` maps names from a member option to user ids."""
    scope = scope_of(interaction)
    channel = f"discord:{scope}:{interaction.channel_id}" if interaction.channel_id else None
    in_dm = interaction.guild_id is None
    permissions = interaction.permissions

    async def profile() -> Profile:
        # Discord sends the member's permissions in this channel with the interaction.
        # A DM belongs to the asker, so they manage it.
        manage = in_dm or permissions.administrator or permissions.manage_channels
        return Profile(timezone=None, can_manage_channel=manage)

    return Asker(
        id=user_id(interaction),
        name=interaction.user.display_name,
        channel=channel,
        resolve_user=_resolver(scope, known or {}),
        profile=profile,
    )


def digest_refusal(interaction: AnyInteraction) -> Reply | None:
    """Why this interaction's channel cannot get a weekly digest, or None when it can.

    Text and announcement channels, their threads, forum posts, voice and stage chats and
    DMs all take messages (where no thread opens on the digest, the prompts are a reply).
    """
    channel = interaction.channel
    kind = getattr(channel, "type", None)
    what = _NO_MESSAGES.get(kind) if isinstance(kind, discord.ChannelType) else None
    if what is None:
        return None
    posts = kind is not discord.ChannelType.category  # a forum's posts take messages
    return error(
        f"{what} holds no messages, so it cannot get the weekly digest.",
        "Run /roadmap subscribe in a text channel"
        + (", or inside one of its posts." if posts else "."),
    )


class Responder:
    """Runs interactions through the core and sends the rendered replies."""

    def __init__(self, roadmap: Roadmap, defer_after: float = DEFER_AFTER) -> None:
        self.roadmap = roadmap
        self.defer_after = defer_after

    def options(self, interaction: AnyInteraction, shared_by: str | None = None) -> Options:
        return Options(
            offer_share=interaction.guild_id is not None,
            shared_by=shared_by,
            pageable=lambda reply: pages_by_grammar(reply, self.roadmap.parse),
        )

    async def command(
        self, interaction: AnyInteraction, command: Command, known: Mapping[str, int] | None = None
    ) -> None:
        """Answer a slash command built from its options."""
        asker = asker_for(interaction, known)
        refused = digest_refusal(interaction) if isinstance(command, Subscribe) else None
        if refused is not None:
            await self._respond(interaction, _value(refused), How.NEW, asker)
            return
        await self._respond(interaction, self.roadmap.handle(command, asker), How.NEW, asker)

    async def click(self, interaction: AnyInteraction, kind: str, command: str) -> None:
        """Answer a button: its command, run as whoever clicked."""
        asker = asker_for(interaction)
        how = How.NEW
        if kind == ButtonKind.SHARE:
            how = How.SHARE
        elif kind == ButtonKind.PAGE and _is_private(interaction.message):
            how = How.UPDATE  # a shared message stays as it is: page privately instead
        elif kind not in set(ButtonKind):
            await self.stale(interaction, f"button kind {kind!r}")
            return
        await self._respond(interaction, self.roadmap.ask(command, asker), how, asker)

    async def stale(self, interaction: AnyInteraction, what: str) -> None:
        """Answer a button or command shape this version does not know: privately, with
        one WARNING line naming it (ids and names only; never the interaction's token)."""
        log.warning("unknown Discord %s: answered as a stale button", what)
        if interaction.response.is_done():
            return
        await self._respond(interaction, _value(STALE_BUTTON), How.NEW, asker_for(interaction))

    async def _respond(
        self, interaction: AnyInteraction, work: Awaitable[Reply], how: How, asker: Asker
    ) -> None:
        task = asyncio.ensure_future(_safely(work))
        deferred = False
        if self.defer_after <= 0 or not (await asyncio.wait({task}, timeout=self.defer_after))[0]:
            deferred = True
            if how is How.UPDATE:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=how is not How.SHARE, thinking=True)
        reply = await task
        shared_by = asker.name if how is How.SHARE and reply.ok else None
        if how is How.SHARE and not reply.ok:
            how = How.NEW  # never post a mistake for everyone
            if deferred:  # the public "thinking…" would become the answer: remove it
                await interaction.delete_original_response()
        if how is How.SHARE:
            reply = for_everyone(reply)  # the sharer's own state means nothing to others
        message = render(reply, self.options(interaction, shared_by))
        await _send(interaction, message, how, deferred)


async def _send(interaction: AnyInteraction, message: Message, how: How, deferred: bool) -> None:
    embeds, view = to_discord(message)
    if how is How.UPDATE:
        if deferred:
            await interaction.edit_original_response(embeds=embeds, view=view)
        else:
            await interaction.response.edit_message(embeds=embeds, view=view)
        return
    extra: dict[str, Any] = {"view": view} if view is not None else {}
    if deferred:
        await interaction.followup.send(embeds=embeds, ephemeral=message.ephemeral, **extra)
    else:
        await interaction.response.send_message(embeds=embeds, ephemeral=message.ephemeral, **extra)


def _is_private(message: discord.Message | None) -> bool:
    return message is not None and message.flags.ephemeral


async def _value(reply: Reply) -> Reply:
    return reply


async def _safely(work: Awaitable[Reply]) -> Reply:
    # A bug in the core must still give the user an answer, never silence.
    try:
        return await work
    except Exception as exc:
        return failure_reply(exc, "a Discord interaction")
