"""Running the Slack adapter: HTTP mode (aiohttp) or Socket Mode, plus our own routes.

HTTP mode serves ``POST /slack/events`` for slash commands, interactivity and events;
each request's signature and timestamp are verified before anything parses it (401
otherwise, 400 for a signed request that is not what Slack sends: see inbound.py). Socket Mode,
chosen when ``SLACK_APP_TOKEN`` is set, needs no public URL; ``/healthz`` is served in
both modes (ready only while the database answers), and ``/metrics`` beside it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from roadmap_bot.adapters.slack import inbound
from roadmap_bot.adapters.slack.app import SlackAdapter
from roadmap_bot.adapters.slack.people import Install
from roadmap_bot.adapters.slack.tokens import REMOVED_REASONS, kind_of
from roadmap_bot.config import ConfigError, Settings
from roadmap_bot.logs import WarningLimiter
from roadmap_bot.store import Store
from roadmap_bot.web.health import HEALTH_PATH
from roadmap_bot.web.server import MAX_BODY, add_routes, serving_application

if TYPE_CHECKING:
    from roadmap_bot.app import App

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"

Mode = Literal["http", "socket"]

# At DEBUG the Socket Mode client dumps every frame (and the socket's ticketed URL).
socket_log = logging.getLogger("roadmap_bot.slack.socket")
socket_log.setLevel(logging.INFO)


def slack_mode(settings: Settings) -> Mode:
    """Socket Mode with an app token, else HTTP mode; a setup that cannot work is refused."""
    if settings.slack_oauth:
        return _oauth_mode(settings)
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    if settings.slack_app_token is not None:
        if not settings.slack_app_token.get_secret_value().startswith("xapp-"):
            raise ConfigError(
                "bad configuration: SLACK_APP_TOKEN: must be an app-level token (xapp-...)"
            )
        return "socket"
    if settings.slack_signing_secret is None:
        raise ConfigError(
            "bad configuration: SLACK_BOT_TOKEN is set, so Slack needs either "
            "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)"
        )
    return "http"


def _oauth_mode(settings: Settings) -> Mode:
    """Installs by OAuth: HTTP mode only (Slack sends every workspace's requests there)."""
    problems = []
    if settings.slack_bot_token is not None:
        problems.append(
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: use SLACK_BOT_TOKEN for one "
            "workspace, or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET to install by OAuth"
        )
    if settings.slack_client_secret is None:
        problems.append("SLACK_CLIENT_ID is set, so SLACK_CLIENT_SECRET is needed too")
    if settings.slack_signing_secret is None:
        problems.append("installs by OAuth need SLACK_SIGNING_SECRET (HTTP mode)")
    if settings.slack_app_token is not None:
        problems.append(
            "SLACK_APP_TOKEN (Socket Mode) cannot serve OAuth installs: unset it and give "
            "Slack a public URL"
        )
    if settings.database == ":memory:":
        problems.append("installs by OAuth are kept in the database: ROADMAP_DB cannot be :memory:")
    if problems:
        raise ConfigError("bad configuration:\n" + "\n".join(f"  {p}" for p in problems))
    return "http"


def web_app(
    bolt: AsyncApp,
    mode: Mode,
    socket: AsyncSocketModeHandler | None = None,
    *,
    store: Store | None = None,
    routes: Callable[[web.Application], None] | None = None,
    signing_secret: str | None = None,
    refusals: WarningLimiter | None = None,
    adapters: Callable[[], dict[str, str]] | None = None,
) -> web.Application:
    """The aiohttp application: Slack's endpoint (HTTP mode, which needs the
    ``signing_secret``), and with the ``store`` our own routes: readiness (``/healthz``)
    and ``/metrics``."""
    refusals = refusals or WarningLimiter(log)
    verifier = SignatureVerifier(signing_secret) if mode == "http" and signing_secret else None

    async def events(request: web.Request) -> web.Response:
        assert verifier is not None
        try:
            bolt_request = await inbound.accept(request, verifier)
        except inbound.Refused as refused:
            refusals.warn(
                "refused a request to %s from %s: %d, %s",
                EVENTS_PATH,
                request.remote,
                refused.status,
                refused.reason,
            )
            return web.Response(status=refused.status, text=refused.reason)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    async def socket_down() -> str | None:
        if socket is not None and not await socket.client.is_connected():
            return "the Socket Mode connection to Slack is down"
        return None

    application = web.Application(client_max_size=MAX_BODY)
    if store is not None:
        add_routes(
            application,
            store,
            checks={"slack": socket_down},
            details={"mode": mode},
            adapters=adapters,
        )
    if mode == "http":
        if verifier is None:
            raise ConfigError("bad configuration: HTTP mode needs SLACK_SIGNING_SECRET")
        application.router.add_post(EVENTS_PATH, events)
        flow = bolt.oauth_flow
        if flow is not None:  # installs by OAuth: Bolt's install page and redirect

            async def install(request: web.Request) -> web.Response:
                answer = await flow.handle_installation(await to_bolt_request(request))
                return await to_aiohttp_response(answer)

            async def redirect(request: web.Request) -> web.Response:
                answer = await flow.handle_callback(await to_bolt_request(request))
                return await to_aiohttp_response(answer)

            application.router.add_get(flow.install_path, install)
            application.router.add_get(flow.redirect_uri_path, redirect)
    if routes is not None:  # the app's own pages, on this same server
        routes(application)
    return application


@asynccontextmanager
async def serving(
    adapter: SlackAdapter,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    routes: Callable[[web.Application], None] | None = None,
    adapters: Callable[[], dict[str, str]] | None = None,
) -> AsyncIterator[tuple[str, int]]:
    """Serve until the block ends; yields the (host, port) actually bound (port 0 works).
    ``adapters`` reports each adapter's state on /healthz."""
    mode = slack_mode(settings)
    socket: AsyncSocketModeHandler | None = None
    if mode == "socket":
        assert settings.slack_app_token is not None
        socket = AsyncSocketModeHandler(
            adapter.app,
            app_token=settings.slack_app_token.get_secret_value(),
            web_client=adapter.client,
            logger=socket_log,
        )
    secret = settings.slack_signing_secret
    application = web_app(
        adapter.app,
        mode,
        socket,
        store=adapter.roadmap.store,
        signing_secret=secret.get_secret_value() if secret else None,
        routes=routes,
        adapters=adapters,
    )
    async with serving_application(
        application,
        host if host is not None else settings.http_host,
        port if port is not None else settings.http_port,
    ) as bound:
        try:
            if mode == "http":
                log.info("Slack HTTP mode: POST %s on %s:%d", EVENTS_PATH, *bound)
            else:
                assert socket is not None
                await socket.connect_async()  # type: ignore[no-untyped-call]
                log.info("Slack Socket Mode connected; %s on %s:%d", HEALTH_PATH, *bound)
            yield bound
        finally:
            if socket is not None:
                await socket.close_async()  # type: ignore[no-untyped-call]


async def run_slack(app: App) -> None:
    """Serve Slack until cancelled (``roadmap-bot serve``)."""
    from roadmap_bot.web.server import app_routes

    async with slack_adapter(app) as adapter:
        await adapter.check_token()
        routes = app_routes(app)
        async with serving(adapter, app.settings, routes=routes, adapters=app.adapters.report):
            app.adapters["slack"].connected()
            await asyncio.Event().wait()


def slack_adapter(app: App, **options: Any) -> SlackAdapter:
    """The adapter as ``serve`` wires it: a workspace that removes the app has its digests
    paused (with the reason), and installing it again resumes them."""
    groups = app.study_groups

    async def removed(team: str, reason: str) -> None:
        paused = await groups.pause_workspace(f"slack:{team}:", reason)
        log.info("paused %d digest(s) in Slack %s %s", paused, kind_of(team), team)

    async def installed(team: str) -> None:
        for reason in REMOVED_REASONS:  # paused only because the app was removed
            await groups.resume_workspace(f"slack:{team}:", reason)

    async def signed_in(install: Install) -> None:
        # One token, one installation: rows under older Slack ids move to this one's.
        moved = await app.store.adopt_slack_installation(install, app.clock.now())
        if moved.people or moved.channels:
            log.info(
                "Slack ids of installation %s: %d people and %d channels moved, "
                "%d duplicate subscription(s) ended",
                install.key,
                moved.people,
                moved.channels,
                moved.ended,
            )
            if groups.on_change is not None:  # the scheduler reads subscriptions again
                groups.on_change()

    return SlackAdapter(
        app.roadmap,
        app.settings,
        on_removed=removed,
        on_installed=installed,
        on_signed_in=signed_in,
        subscribed_channels=groups.digests.active_channels_like,
        **options,
    )


def slack_service(app: App) -> Callable[[], Coroutine[Any, Any, None]]:
    """The serve.py service; checks the configuration before anything starts."""
    slack_mode(app.settings)
    return lambda: run_slack(app)
