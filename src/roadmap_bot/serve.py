"""`roadmap-bot serve`: run every configured adapter side by side until stopped.

Platform libraries are imported here, lazily, so `roadmap-bot ask` never pays for them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from roadmap_bot.adapters.console import console_asker, run_console
from roadmap_bot.app import App, platform_posters
from roadmap_bot.config import ConfigError, Settings
from roadmap_bot.retry import backoff
from roadmap_bot.store.problems import database_problem

log = logging.getLogger(__name__)

Service = Callable[[], Coroutine[Any, Any, None]]
T = TypeVar("T")


NOTHING_TO_SERVE = (
    "nothing to serve: set SLACK_BOT_TOKEN (with SLACK_SIGNING_SECRET for HTTP mode or "
    "SLACK_APP_TOKEN for Socket Mode) and/or DISCORD_TOKEN; without them `serve` opens the "
    "local console, which needs a terminal"
)
BUSY_BACKOFF = (1.0, 60.0)  # seconds: the first wait for a busy database, and the longest


def nothing_to_serve(settings: Settings) -> str | None:
    """Why ``serve`` cannot run with these settings here, or None."""
    if settings.slack_configured or settings.discord_configured or sys.stdin.isatty():
        return None
    return NOTHING_TO_SERVE  # e.g. a detached container started without credentials


async def serve(
    app: App, stop: asyncio.Event | None = None, started: Callable[[], None] | None = None
) -> None:
    """Start the configured adapters and the digest scheduler until ``stop`` is set (or a
    service ends); no credentials: the console. ``started`` is called once start-up is
    done, before any service runs (``roadmap-bot serve`` settles its memory there)."""
    problem = nothing_to_serve(app.settings)
    if problem is not None:
        raise ConfigError(problem)
    # Digests go out over each platform's REST API; one that does not answer yet is
    # waited for (a configuration error still stops serve).
    async with platform_posters(app, patient=True):
        await _serve(app, stop or asyncio.Event(), started)


class Stopped(Exception):
    """A stop was asked for (SIGTERM, SIGINT) before serving began."""


async def while_busy(
    what: str, work: Callable[[], Awaitable[T]], stop: asyncio.Event | None = None
) -> T:
    """Run ``work``; while it fails because another process holds the database's write
    lock past the busy timeout, say so and try again with backoff (until ``stop``). A
    server waits out a busy database; it does not exit over it."""
    stop = stop or asyncio.Event()
    for attempt in itertools.count():
        try:
            return await work()
        except Exception as exc:
            problem = database_problem(exc)
            if problem is None or problem.kind != "busy":
                raise
            delay = backoff(attempt, *BUSY_BACKOFF)
            log.warning(
                "%s: the database is busy (%s); trying again in %.0f s", what, problem.detail, delay
            )
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                continue
            raise Stopped(what) from None
    raise AssertionError("unreachable")


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM (docker stop, systemd) and SIGINT (Ctrl-C) set ``stop`` for a clean exit."""
    loop = asyncio.get_running_loop()

    def handle(signum: int) -> None:
        if not stop.is_set():
            log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, handle, signum)
    try:
        yield
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def _serve(app: App, stop: asyncio.Event, started: Callable[[], None] | None) -> None:
    from roadmap_bot.groups.scheduler import SWEEP_MINUTES, DigestScheduler
    from roadmap_bot.web.server import prometheus_recorder

    prometheus_recorder()  # count from the start, whatever serves /metrics later

    # A replica that died leaves its digests to the first sweep after its leases expire:
    # sweeping at least once per lease finishes them within two lease lengths.
    lease_minutes = app.deliverer.lease.total_seconds() / 60
    scheduler = DigestScheduler(app.deliverer, sweep_minutes=min(SWEEP_MINUTES, lease_minutes))
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
    app.roadmap.warm()  # what the first search would build, built before it
    if started is not None:  # start-up is done and nothing is in flight yet
        started()
    # Serving first: /healthz, commands and the gateway answer while the catch-up (which
    # may meet rate limits) delivers what was due while the bot was down.
    tasks = [
        asyncio.create_task(_isolated(app, name, run), name=name) for name, run in services.items()
    ]
    catch_up: asyncio.Task[Any] | None = None
    try:
        await while_busy("digest scheduler", scheduler.start, stop)
        catch_up = asyncio.create_task(
            while_busy("start-up catch-up", scheduler.catch_up), name="catch-up"
        )
        await _until_first_exits(tasks, stop)
    finally:
        log.info("stopping: no new work; in-flight deliveries finish or are handed back")
        await scheduler.stop()  # finishes or hands back in-flight deliveries
        running = [t for t in (catch_up, *tasks) if t is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        log.info("stopped")


PLATFORMS = ("slack", "discord")


def _isolated(app: App, name: str, run: Service) -> Coroutine[Any, Any, None]:
    """A platform adapter runs supervised: its failures are logged and it is started again
    with backoff while the others and the scheduler go on; only a configuration error
    ends ``serve``. The web server and the console run as they are (their end is serve's)."""
    if name not in PLATFORMS:
        return while_busy(name, run)
    from roadmap_bot.adapters.supervisor import supervise

    return supervise(name, run, app.adapters[name], fatal=(ConfigError,))


async def _until_first_exits(tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
    stopping = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    for task in done:
        if task is not stopping and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
