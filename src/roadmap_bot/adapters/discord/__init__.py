"""The Discord adapter: /roadmap app commands, embeds and persistent buttons (discord.py).

Importing this package does not import discord.py; ``run_discord`` does, when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roadmap_bot.app import App


async def run_discord(app: App) -> None:
    """Log in with DISCORD_TOKEN and answer interactions until cancelled."""
    from roadmap_bot.adapters.discord.client import run

    await run(app)
