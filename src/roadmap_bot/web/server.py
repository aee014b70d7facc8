"""Our routes on the one HTTP server of a replica, and that server when Slack brings none.

With Slack in HTTP mode or Socket Mode the Slack adapter owns the aiohttp server and
adds these routes to it (``POST /slack/events`` beside them); a replica without Slack
(Discord only) still serves them, so every replica can be health-checked and scraped.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from roadmap_bot import metrics
from roadmap_bot.config import ConfigError
from roadmap_bot.logs import WarningLimiter
from roadmap_bot.store import Store
from roadmap_bot.web.health import HEALTH_PATH, Check, health_handler
from roadmap_bot.web.metrics import METRICS_PATH, PrometheusRecorder, metrics_handler

if TYPE_CHECKING:
    from roadmap_bot.app import App

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack payloads and our own requests are far smaller
# A client gets this long to send a whole request head (one trickling its headers byte
# by byte is cut off) and, on a kept-alive connection, to start its next request.
HEADER_TIMEOUT = 10.0
# When the server stops, requests being answered get this long to finish.
SHUTDOWN_TIMEOUT = 3.0


class ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's log for handling requests. A request that is not valid HTTP (a bad
    header, a port scanner's bytes) is the client's doing: one rate-limited WARNING line
    instead of aiohttp's ERROR with a traceback. Anything else keeps its traceback."""

    def __init__(self) -> None:
        super().__init__(log, {})
        self.refusals = WarningLimiter(log)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if not isinstance(error, BaseException):
            error = sys.exc_info()[1]
        if isinstance(error, HttpProcessingError):
            reason = (error.message or type(error).__name__).strip().splitlines()[0]
            self.refusals.warn("refused a malformed HTTP request: %d, %s", error.code, reason)
            return
        self.logger.error(msg, *args, **{"exc_info": True, **kwargs})


def prometheus_recorder() -> PrometheusRecorder:
    """The process's Prometheus recorder, installed on first use."""
    current = metrics.recorder()
    if isinstance(current, PrometheusRecorder):
        return current
    recorder = PrometheusRecorder()
    metrics.install(recorder)
    return recorder


def add_routes(
    application: web.Application,
    store: Store,
    *,
    checks: dict[str, Check] | None = None,
    details: dict[str, str] | None = None,
    adapters: Callable[[], dict[str, str]] | None = None,
) -> None:
    """``GET /healthz`` (readiness: the database answers, and ``checks`` pass; with each
    adapter's state) and ``GET /metrics`` (Prometheus text format)."""
    application.router.add_get(
        HEALTH_PATH, health_handler(store, checks, details=details, adapters=adapters)
    )
    application.router.add_get(METRICS_PATH, metrics_handler(prometheus_recorder()))


class CannotServe(ConfigError):
    """The HTTP port cannot be had: a configuration error, whichever adapter runs the
    server (``serve`` exits with the reason rather than retrying a port forever)."""

    def __init__(self, host: str, port: int, problem: OSError) -> None:
        reason = problem.strerror or str(problem)
        super().__init__(
            f"cannot serve HTTP on {host}:{port}: {reason}. Set ROADMAP_HTTP_PORT to a free "
            "port (0: any free port) or ROADMAP_HTTP_HOST to an address of this machine"
        )


@asynccontextmanager
async def serving_application(
    application: web.Application, host: str, port: int
) -> AsyncIterator[tuple[str, int]]:
    """Serve ``application`` until the block ends; yields the address bound (port 0 works)."""
    # aiohttp's keep-alive timer runs from the moment a connection opens until a request
    # is complete, so it is also the header-read timeout.
    runner = web.AppRunner(
        application,
        access_log=None,
        keepalive_timeout=HEADER_TIMEOUT,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        logger=ServerLog(),
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as problem:
            raise CannotServe(host, port, problem) from None
        address = runner.addresses[0]
        yield str(address[0]), int(address[1])
    finally:
        await runner.cleanup()


def app_routes(app: App) -> Callable[[web.Application], None]:
    """The routes of the app's features (the study-group pages), for whichever server
    runs: Slack's when Slack is configured, else :func:`run_web`'s."""

    def add(application: web.Application) -> None:
        from roadmap_bot.web.pages import add_page_routes

        add_page_routes(application, app.group_view)

    return add


async def run_web(app: App, *, required: bool = True) -> None:
    """Serve /healthz, /metrics and the study-group pages (``serve`` without Slack).

    A port that cannot be had stops ``serve`` with the reason when a platform needs the
    server (health checks, metrics); with only the console it is logged and the console
    goes on without the pages (``required=False``)."""
    application = web.Application(client_max_size=MAX_BODY)
    add_routes(application, app.store, adapters=app.adapters.report)
    app_routes(app)(application)
    settings = app.settings
    try:
        async with serving_application(
            application, settings.http_host, settings.http_port
        ) as bound:
            log.info(
                "serving %s, %s and study-group pages on %s:%d", HEALTH_PATH, METRICS_PATH, *bound
            )
            await asyncio.Event().wait()
    except CannotServe as problem:
        if required:
            raise
        log.error("%s; the console goes on without the study-group pages", problem)
        await asyncio.Event().wait()
