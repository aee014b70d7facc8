"""Persistent buttons: one DynamicItem that answers every ``rb:<kind>:<command>`` custom_id.

The command rides in the custom_id, so a button on a week-old message still works after
a restart: discord.py matches the id against the template registered in ``setup_hook``
and no per-message state is kept.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from roadmap_bot.adapters.discord.embeds import CUSTOM_ID_RE, Message

BaseButton = discord.ui.Button[discord.ui.View]


class ClickHandler(Protocol):
    async def click(
        self, interaction: discord.Interaction[Any], kind: str, command: str
    ) -> None: ...


class RoadmapButton(discord.ui.DynamicItem[BaseButton], template=CUSTOM_ID_RE):
    """Any of our buttons; the click goes to the client's responder."""

    def __init__(self, button: BaseButton) -> None:
        super().__init__(button)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> RoadmapButton:
        if not isinstance(item, discord.ui.Button):
            raise TypeError(f"{item!r} is not a button")
        return cls(item)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        match = CUSTOM_ID_RE.fullmatch(self.custom_id)
        handler: ClickHandler | None = getattr(interaction.client, "responder", None)
        if match is None or handler is None:
            return
        await handler.click(interaction, match["kind"], match["command"])


def to_discord(message: Message) -> tuple[list[discord.Embed], discord.ui.View | None]:
    """discord.py objects for a rendered message: its embeds and a view of its buttons."""
    embeds = [discord.Embed.from_dict(e) for e in message.embeds]
    if not message.rows:
        return embeds, None
    view = discord.ui.View(timeout=None)
    for row, buttons in enumerate(message.rows):
        for spec in buttons:
            style = discord.ButtonStyle(int(spec.style))
            if spec.url is not None:
                view.add_item(
                    discord.ui.Button(style=style, label=spec.label, url=spec.url, row=row)
                )
            else:
                button: BaseButton = discord.ui.Button(
                    style=style, label=spec.label, custom_id=spec.custom_id, row=row
                )
                view.add_item(RoadmapButton(button))
    # The view is only a layout: clicks reach RoadmapButton through the dynamic item
    # registered in setup_hook. Stopping it keeps discord.py from tracking every message.
    view.stop()
    return embeds, view
