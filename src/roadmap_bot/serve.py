"""`roadmap-bot serve`: run every configured adapter side by side until stopped.

Platform libraries are imported here, lazily, so `roadmap-bot ask` never pays for them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from roadmap_bot.adapters.console import console_asker, run_console
from roadmap_bot.app import App, platform_posters

log = logging.getLogger(__name__)

Service = Callable[[], Coroutine[Any, Any, None]]


async def serve(app: App) -> None:
    """Start the configured adapters and the digest scheduler; no credentials: the console."""
    async with platform_posters(app):  # digests go out over each platform's REST API
        await _serve(app)


async def _serve(app: App) -> None:
    from roadmap_bot.groups.scheduler import DigestScheduler
    from roadmap_bot.web.server import prometheus_recorder

    prometheus_recorder()  # count from the start, whatever serves /metrics later

    scheduler = DigestScheduler(app.deliverer)
    app.study_groups.on_change = scheduler.changed
    services: dict[str, Service] = {}
    # Platform adapters are added here as they land (each only when configured).
    if app.settings.slack_configured:
        from roadmap_bot.adapters.slack.server import slack_service

        services["slack"] = slack_service(app)
    if app.settings.discord_configured:
        from roadmap_bot.adapters.discord import run_discord

        services["discord"] = lambda: run_discord(app)
    platforms = bool(services)
    if "slack" not in services:
        # Slack's server carries /healthz, /metrics and the study-group pages; without
        # Slack (Discord alone, or only the console) they get a server of their own.
        from roadmap_bot.web.server import run_web

        services["web"] = lambda: run_web(app, required=platforms)
    if not platforms or sys.stdin.isatty():
        if not platforms:
            log.info("no Slack or Discord credentials: starting the local console")
        services["console"] = lambda: run_console(app.roadmap, console_asker())
    log.info("serving: %s", ", ".join(services))
    # Serving first: /healthz, commands and the gateway answer while the catch-up (which
    # may meet rate limits) delivers what was due while the bot was down.
    tasks = [asyncio.create_task(run(), name=name) for name, run in services.items()]
    await scheduler.start()
    catch_up = asyncio.create_task(scheduler.catch_up(), name="catch-up")
    try:
        await _until_first_exits(tasks)
    finally:
        await scheduler.stop()  # finishes or hands back in-flight deliveries
        catch_up.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(catch_up, *tasks, return_exceptions=True)


async def _until_first_exits(tasks: list[asyncio.Task[None]]) -> None:
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
