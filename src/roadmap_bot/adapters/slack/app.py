"""The Bolt app: /roadmap, button clicks and the App Home tab, answered by the core.

A slash command's answer rides in its ack when the core answers within
``INLINE_BUDGET``; otherwise the ack goes out empty and the answer follows through the
request's ``response_url``. Buttons and the Home tab are acknowledged at once and
answered from a background task (``response_url`` / ``views.publish``). Replies go to the asker only; "Share to channel" posts the card for
everyone. The Bolt app runs with ``process_before_response`` so an ack returns straight
away instead of after Bolt's 10 ms polling loop; our own tasks do the slow part.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from roadmap_bot.adapters.slack.acks import answer_ack
from roadmap_bot.adapters.slack.api import retry_handlers, sdk_log, web_client
from roadmap_bot.adapters.slack.auth import share_first_auth_test
from roadmap_bot.adapters.slack.blocks import (
    COMMAND_ACTION,
    SHARE_ACTION,
    URL_ACTION,
    render_message,
)
from roadmap_bot.adapters.slack.escape import as_typed
from roadmap_bot.adapters.slack.home import home_view
from roadmap_bot.adapters.slack.people import (
    Install,
    Origin,
    People,
    read_mentions,
    unnamed_mentions,
)
from roadmap_bot.adapters.slack.tokens import (
    Installed,
    OneToken,
    Removed,
    Tokens,
    kind_of,
    removed_reason,
    with_token,
)
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.failures import failure_reply
from roadmap_bot.chat.render_text import pages_by_grammar
from roadmap_bot.chat.replies import STALE_BUTTON, Reply
from roadmap_bot.chat.shared import for_everyone
from roadmap_bot.config import ConfigError, Settings

if TYPE_CHECKING:
    from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
    from slack_bolt.response import BoltResponse

    from roadmap_bot.adapters.slack.installs import SlackInstalls

log = logging.getLogger(__name__)

# auth.test answers that mean the token itself is wrong (not Slack being down).
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
TOKEN_REJECTED = (
    "SLACK_BOT_TOKEN was rejected by Slack ({error}): copy the Bot User OAuth Token "
    "(xoxb-...) again from the app's OAuth & Permissions page"
)

# How long a slash command may take to answer inside its ack. Slack allows 3 seconds
# for the ack; the rest is margin for the network.
INLINE_BUDGET = 1.5

Body = dict[str, Any]


@dataclass(frozen=True)
class Click:
    """A button click: who, through which installation, and in which channel."""

    origin: Origin
    name: str
    channel: str | None


class SlackAdapter:
    """The Slack side of roadmap-bot: a Bolt ``AsyncApp`` wired to the core.

    Use it as an async context manager: it owns one HTTP session for Web API calls and
    response_url posts, and on exit waits for answers still being sent.
    """

    def __init__(
        self,
        roadmap: Roadmap,
        settings: Settings,
        *,
        client: AsyncWebClient | None = None,
        handlers: list[AsyncRetryHandler] | None = None,
        on_removed: Removed | None = None,
        on_installed: Installed | None = None,
        on_signed_in: Callable[[Install], Awaitable[None]] | None = None,
        subscribed_channels: Callable[[str], Awaitable[list[str]]] | None = None,
    ) -> None:
        self.roadmap = roadmap
        # Lists page when their command takes 'page N' in this core's whole language.
        self._pageable = partial(pages_by_grammar, parse_command=roadmap.parse)
        self.settings = settings
        self.handlers = handlers if handlers is not None else retry_handlers()
        self.client = client or web_client(settings, handlers=self.handlers)
        self.on_removed = on_removed
        self.on_installed = on_installed
        self.on_signed_in = on_signed_in
        # Channels with an active subscription matching a LIKE pattern (the store's).
        self.subscribed_channels = subscribed_channels
        # Installs by OAuth: tokens per workspace from the installation store.
        self.installs: SlackInstalls | None = None
        oauth: AsyncOAuthSettings | None = None
        self.tokens: Tokens = OneToken()
        if settings.slack_oauth:
            from roadmap_bot.adapters.slack.installs import SlackInstalls

            self.installs = SlackInstalls.open(settings)
            self.tokens = self.installs.tokens
            oauth = self.installs.oauth_settings(settings, self._installed)
        self.people = People(
            self.client,
            settings.slack_admins,
            tokens=self.tokens,
            install_names=self._name_of,
            channel_owners=self._channel_owner if self.installs is not None else None,
        )
        self.session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        secret = settings.slack_signing_secret
        self.app = AsyncApp(
            client=self.client,
            # Socket Mode needs no secret; HTTP mode is only served with one (server.py).
            signing_secret=secret.get_secret_value() if secret else "",
            oauth_settings=oauth,
            process_before_response=True,
            logger=logging.getLogger("roadmap_bot.slack.bolt"),
            name="roadmap-bot",
        )
        share_first_auth_test(self.app)  # commands arriving together: one auth.test
        if self.installs is not None:
            self.app.event("app_uninstalled")(self._on_uninstalled)
            self.app.event("tokens_revoked")(self._on_tokens_revoked)
        self.app.command(re.compile(r"^/"))(self._on_command)
        self.app.action(re.compile(rf"^{COMMAND_ACTION}:\d+$"))(self._on_button)
        self.app.action(SHARE_ACTION)(self._on_share)
        self.app.action(re.compile(rf"^{URL_ACTION}:\d+$"))(self._on_link)
        self.app.event("app_home_opened")(self._on_home_opened)
        # Last, so it only sees what nothing above matched: a button from an older version.
        self.app.action(re.compile(r".*"))(self._on_stale_action)

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> SlackAdapter:
        if self.installs is not None:
            await self.installs.create_tables()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        self.client.session = self.session
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.idle()
        if self.session is not None:
            await self.session.close()
            self.session = None
            self.client.session = None
        if self.installs is not None:
            await self.installs.close()

    async def check_token(self) -> None:
        """One ``auth.test`` at start-up: a rejected token stops ``serve`` with one line
        (ConfigError) instead of failing every command later; Slack unreachable is only
        a warning (commands will say more)."""
        if self.installs is not None:
            return  # installs by OAuth: no token of our own; Bolt checks each workspace's
        try:
            answer = await self.client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if error in TOKEN_ERRORS:
                raise ConfigError(TOKEN_REJECTED.format(error=error)) from None
            log.warning("could not check SLACK_BOT_TOKEN with auth.test (%s); going on", error)
            return
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not reach Slack to check SLACK_BOT_TOKEN (%s); going on", exc)
            return
        log.info("Slack: signed in as %s in %s", answer.get("user"), answer.get("team"))
        if self.on_signed_in is not None:
            await self.on_signed_in(
                Install(
                    team=answer.get("team_id") or None,
                    enterprise=answer.get("enterprise_id") or None,
                    org_wide=bool(answer.get("is_enterprise_install")),
                    name=answer.get("team") or None,
                )
            )
        # Bolt's single-workspace authorization would call auth.test again at the first
        # request: hand it this answer (if Bolt's internals change, it just asks once more).
        for middleware in getattr(self.app, "_async_middleware_list", ()):
            if isinstance(middleware, AsyncSingleTeamAuthorization):
                middleware.auth_test_result = answer

    async def _name_of(self, install: Install) -> str | None:
        """The installing workspace's (or organization's) name: from its installation
        row, or from the one token's ``auth.test`` answer."""
        if self.installs is not None:
            return await self.installs.name_of(install.key)
        for middleware in getattr(self.app, "_async_middleware_list", ()):
            if isinstance(middleware, AsyncSingleTeamAuthorization) and middleware.auth_test_result:
                return str(middleware.auth_test_result.get("team") or "") or None
        return None

    async def _channel_owner(self, channel: str) -> Install | None:
        """The one installation of ours a Slack channel id is subscribed under, if any.
        With installs by OAuth both sides of a Slack Connect channel (or two workspaces of
        a Grid organization) may have installed the app; the first subscription decides."""
        if self.installs is None or self.subscribed_channels is None:
            return None
        owners = {key.split(":")[1] for key in await self.subscribed_channels(f"slack:%:{channel}")}
        if len(owners) != 1:
            return None
        return await self.installs.installation(owners.pop())

    async def idle(self) -> None:
        """Wait until every answer started so far has been sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- listeners: ack now, answer in the background -------------------------------------

    async def _on_command(
        self, ack: AsyncAck, body: Body, context: AsyncBoltContext
    ) -> BoltResponse | None:
        # A fast answer rides in the ack itself: one HTTP exchange instead of two. When
        # the core takes longer than INLINE_BUDGET, ack empty and answer via response_url.
        # The person's own workspace: Slack Connect names it apart from the request's team.
        user_team = body.get("user_team") or body.get("team_id")
        origin = self._origin(context, str(body.get("user_id", "")), user_team)
        work = asyncio.ensure_future(self._command_reply(body, origin))
        # asyncio.wait leaves the work running at the deadline (no shield needed).
        await asyncio.wait((work,), timeout=INLINE_BUDGET)
        if not work.done():
            await ack()
            self._spawn(self._guarded(body, lambda late: self._answer_late(late, work)))
            return None
        try:
            reply = work.result()
        except Exception as exc:
            reply = failure_reply(exc, "a Slack command")
        # Returned, Bolt sends it as the ack (see acks.py: the same body, made faster).
        return answer_ack(
            render_message(reply, pageable=self._pageable),
            "in_channel" if reply.public else "ephemeral",
        )

    async def _on_button(self, ack: AsyncAck, body: Body, context: AsyncBoltContext) -> None:
        await ack()
        click = self._clicker(body, context)
        self._spawn(self._guarded(body, lambda b: self._answer_button(b, click)))

    async def _on_share(self, ack: AsyncAck, body: Body, context: AsyncBoltContext) -> None:
        await ack()
        click = self._clicker(body, context)
        self._spawn(self._guarded(body, lambda b: self._answer_share(b, click)))

    async def _on_link(self, ack: AsyncAck) -> None:
        await ack()  # the browser opens the URL; Slack still tells us about the click

    async def _on_stale_action(self, ack: AsyncAck, body: Body, context: AsyncBoltContext) -> None:
        await ack()
        action = ((body.get("actions") or [{}])[0] or {}).get("action_id")
        log.warning("unknown Slack action_id %r: answered as a stale button", action)
        click = self._clicker(body, context)
        self._spawn(self._guarded(body, lambda b: self._answer_stale(b, click)))

    async def _answer_stale(self, body: Body, click: Click) -> None:
        if (body.get("container") or {}).get("type") == "view":
            asker = self.people.asker(click.origin, click.name, None)
            await self.publish_home(asker, click.origin.install, answer=STALE_BUTTON)
        elif body.get("response_url"):
            await self.respond(
                body["response_url"],
                render_message(STALE_BUTTON),
                response_type="ephemeral",
                replace_original=False,
            )

    async def _on_home_opened(
        self, ack: AsyncAck, body: Body, event: Body, context: AsyncBoltContext
    ) -> None:
        await ack()
        if event.get("tab", "home") == "home":
            origin = self._origin(context, str(event.get("user") or ""), event.get("user_team"))
            self._spawn(self._guarded(body, lambda b: self._answer_home(origin)))

    # -- workspaces: installed, uninstalled ---------------------------------------------

    async def _installed(self, team: str) -> None:
        if self.on_installed is not None:
            await self.on_installed(team)

    async def _on_uninstalled(self, ack: AsyncAck, context: AsyncBoltContext) -> None:
        await ack()
        key = installation(context).key
        await self._removed(key, removed_reason(key))

    async def _on_tokens_revoked(
        self, ack: AsyncAck, event: Body, context: AsyncBoltContext
    ) -> None:
        await ack()
        if (event.get("tokens") or {}).get("bot"):  # user tokens alone: the bot still works
            key = installation(context).key
            await self._removed(key, removed_reason(key, revoked=True))

    async def _removed(self, team: str, reason: str) -> None:
        """The installation (a workspace, or a Grid organization installed org-wide) took
        the app away: forget its token, pause its digests."""
        if not team or self.installs is None:
            return
        await self.installs.remove(team)
        log.info("Slack %s %s removed the app: %s", kind_of(team), team, reason)
        if self.on_removed is not None:
            await self.on_removed(team, reason)

    async def _guarded(self, body: Body, answer: Callable[[Body], Awaitable[None]]) -> None:
        """Run one answer; a failure is logged and, where possible, told to the user."""
        try:
            await answer(body)
        except Exception as exc:
            reply = failure_reply(exc, f"a Slack {body.get('type') or 'command'}")
            url = body.get("response_url")
            if url:
                try:
                    await self.respond(url, render_message(reply), response_type="ephemeral")
                except Exception:
                    log.warning("could not tell the user about the failure either")

    # -- answers ----------------------------------------------------------------------------

    def _origin(self, context: AsyncBoltContext, user: str, user_team: object) -> Origin:
        return Origin(installation(context), user, str(user_team) if user_team else None)

    async def _command_reply(self, body: Body, origin: Origin) -> Reply:
        text = str(body.get("text") or "")
        owner = origin.install.key
        names = await self.people.names(owner, unnamed_mentions(text)) if "<@" in text else {}
        mentions = read_mentions(text, names)
        # The core reads what the user typed, not Slack's escaped form of it.
        typed = as_typed(mentions.text)
        channel = body.get("channel_id")
        origin = await self.people.with_owner(origin, channel, typed)
        asker = self.people.asker(origin, str(body.get("user_name") or ""), channel, mentions)
        return await self.roadmap.ask(typed, asker)

    async def _answer_late(self, body: Body, work: asyncio.Future[Reply]) -> None:
        """The answer that missed the ack's budget, through the response_url."""
        reply = await work
        await self.respond(
            body["response_url"],
            render_message(reply, pageable=self._pageable),
            response_type="in_channel" if reply.public else "ephemeral",
        )

    def _clicker(self, body: Body, context: AsyncBoltContext) -> Click:
        """Who clicked (``user.team_id`` is their own workspace, which in a Slack Connect
        channel is not the installation's), through which installation, and where."""
        who = body.get("user") or {}
        origin = self._origin(context, str(who.get("id", "")), who.get("team_id"))
        name = str(who.get("username") or who.get("name") or "")
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        return Click(origin, name, channel)

    async def _click_asker(self, body: Body, click: Click) -> tuple[Asker, str]:
        """The clicker as an asker for the button's command (and that command)."""
        value = str(body["actions"][0].get("value", ""))
        origin = await self.people.with_owner(click.origin, click.channel, value)
        return self.people.asker(origin, click.name, click.channel), value

    async def _answer_button(self, body: Body, click: Click) -> None:
        """Run the button's command as the clicker and answer where the button was."""
        asker, value = await self._click_asker(body, click)
        reply = await self.roadmap.ask(value, asker)
        container = body.get("container") or {}
        if container.get("type") == "view":
            await self.publish_home(asker, click.origin.install, answer=reply)
        elif container.get("is_ephemeral"):
            # The asker's own message: replace it (paging turns the page in place).
            await self.respond(
                body["response_url"],
                render_message(reply, pageable=self._pageable),
                replace_original=True,
            )
        else:
            # A message everyone sees: answer the clicker alone, leave it as it is.
            await self.respond(
                body["response_url"],
                render_message(reply, pageable=self._pageable),
                response_type="ephemeral",
                replace_original=False,
            )

    async def _answer_share(self, body: Body, click: Click) -> None:
        """Post the card the clicker sees for the whole channel."""
        asker, value = await self._click_asker(body, click)
        reply = await self.roadmap.ask(value, asker)
        # Neutral: the sharer's own state and buttons (their "Undo") mean nothing to others.
        shared = for_everyone(reply) if reply.ok else reply.model_copy(update={"public": True})
        await self.respond(
            body["response_url"],
            render_message(shared),
            response_type="in_channel",
            replace_original=False,
        )

    async def _answer_home(self, origin: Origin) -> None:
        info = await self.people.user_info(origin.install.key, origin.user)
        asker = self.people.asker(origin, str(info.get("name") or ""), None)
        await self.publish_home(asker, origin.install)

    async def publish_home(
        self, asker: Asker, install: Install, answer: Reply | None = None
    ) -> None:
        """Refresh the asker's Home tab (with ``answer`` on top, after a click there), with
        the token of the installation the request came through."""
        progress = await self.roadmap.ask("progress", asker)
        pick = await self.roadmap.ask("next", asker)
        slack_user = asker.id.rsplit(":", 1)[-1]
        token = await self.tokens.for_team(install.key)
        await self.client.views_publish(
            user_id=slack_user, view=home_view(progress, pick, answer), **with_token(token)
        )

    # -- sending ------------------------------------------------------------------------------

    async def respond(self, url: str, message: dict[str, Any], **options: Any) -> None:
        """Post to a response_url (retrying 429s and 5xx); Slack's refusal is logged."""
        hook = AsyncWebhookClient(
            url,
            session=self.session,
            retry_handlers=self.handlers,
            logger=sdk_log,
        )
        try:
            response = await hook.send_dict({**message, **options})
        except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as problem:
            log.warning("response_url post failed: %s", type(problem).__name__)
            return
        if response.status_code != 200:
            # The URL is a credential for 30 minutes: log the outcome, not the URL.
            log.warning(
                "response_url refused the answer: %s %s", response.status_code, response.body
            )


def installation(context: AsyncBoltContext) -> Install:
    """The installation that serves a request, from what Bolt authorized it with (the
    installation's team, or the one token's ``auth.test`` answer), never from the
    invoking user's team. An org-wide Grid install is named by its enterprise."""
    found = context.authorize_result
    enterprise = (found.enterprise_id if found else None) or context.enterprise_id
    team = (found.team_id if found else None) or context.team_id
    name = found.team if found else None
    return Install(
        team=team or None,
        enterprise=enterprise or None,
        org_wide=bool(context.is_enterprise_install),
        name=name or None,
    )
