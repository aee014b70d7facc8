"""The Discord adapter: /roadmap app commands, embeds and persistent buttons (discord.py).

Importing this package does not import discord.py; ``run_discord`` does, when called.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roadmap_bot.app import App
    from roadmap_bot.config import Settings
    from roadmap_bot.groups.delivery import Poster


async def run_discord(app: App) -> None:
    """Log in with DISCORD_TOKEN and answer interactions until cancelled."""
    from roadmap_bot.adapters.discord.client import run

    await run(app)


def discord_poster(
    settings: Settings, *, patient: bool = False
) -> AbstractAsyncContextManager[Poster]:
    """The digest poster for Discord channels: REST only, no gateway needed. ``patient``:
    a Discord that does not answer yet is waited for, not a configuration error."""
    from roadmap_bot.adapters.discord.poster import open_poster

    return open_poster(settings, patient=patient)
