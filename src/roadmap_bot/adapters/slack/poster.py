"""Weekly digests on Slack: the deliverer's :class:`~roadmap_bot.groups.delivery.Poster`.

The digest goes out with ``chat.postMessage`` carrying message metadata (event type and
delivery id), so an unfinished claim can be checked against the channel's history
(``conversations.history`` with ``include_all_metadata``) before anything is posted
again. The discussion prompts follow as a thread reply, with metadata of their own, found
the same way in the thread (``conversations.replies``).

Answers that may hide a success (Slack's ``internal_error`` and ``fatal_error``: "some
aspect of the operation may have succeeded"; an HTTP 5xx) are unknown outcomes: the
deliverer looks in the channel before any retry.

This client has no retry handlers of its own: the deliverer owns the policy (it waits
out Retry-After, backs off, and looks before re-posting after a lost answer). slack_sdk's
connection-error retry would re-send a post whose answer was merely lost.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp
import orjson
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.internal_utils import get_user_agent

from roadmap_bot.adapters.slack.api import web_client
from roadmap_bot.adapters.slack.blocks import render_message
from roadmap_bot.adapters.slack.tokens import NotInstalled, OneToken, Tokens, with_token
from roadmap_bot.chat.by_identity import ByIdentity
from roadmap_bot.chat.replies import Reply
from roadmap_bot.config import Settings
from roadmap_bot.groups.delivery import DeliveryError
from roadmap_bot.groups.digest import Digest

log = logging.getLogger(__name__)

EVENT_TYPE = "roadmap_digest"
DISCUSSION_EVENT_TYPE = "roadmap_discussion"
# Slack's words for "it may have worked": never retried blindly.
AMBIGUOUS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
HISTORY_PAGES = 5  # x 200 messages: far more than a channel sees between two attempts

# Slack errors that no retry can fix: the subscription pauses with the reason.
PERMANENT = {
    "channel_not_found": "the channel no longer exists or the bot cannot see it",
    "not_in_channel": "the bot is not a member of the channel: invite it with /invite",
    "is_archived": "the channel is archived",
    "account_inactive": "the bot's account was deactivated",
    "invalid_auth": "Slack refused the bot token (SLACK_BOT_TOKEN)",
    "not_authed": "Slack refused the bot token (SLACK_BOT_TOKEN)",
    "token_revoked": "the bot token was revoked: reinstall the app",
    "missing_scope": "the app lacks a scope it needs (see the manifest): reinstall it",
    "restricted_action": "the workspace does not let the bot post there",
    "access_denied": "Slack denied the bot access to the channel",
    "team_access_not_granted": "the app is not installed in that workspace",
}


@asynccontextmanager
async def slack_poster(settings: Settings) -> AsyncIterator[SlackPoster]:
    """A poster with its own connection pool, closed on exit; with OAuth installs, each
    workspace's channels are posted to with that workspace's token."""
    async with AsyncExitStack() as stack:
        tokens: Tokens = OneToken()
        if settings.slack_oauth:
            from roadmap_bot.adapters.slack.installs import SlackInstalls

            installs = SlackInstalls.open(settings)
            stack.push_async_callback(installs.close)
            await installs.create_tables()
            tokens = installs.tokens
        session = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15), json_serialize=_json)
        )
        # slack_sdk builds its User-Agent on every call unless the client carries one
        headers = {"User-Agent": get_user_agent()}
        client = web_client(settings, handlers=[], session=session, headers=headers)
        yield SlackPoster(client, tokens)


def _json(body: Any) -> str:
    # Each post is a few KB of Block Kit: the standard json module took ~25 us of the
    # ~300 us of CPU a post costs; orjson takes ~2 us (the same JSON, compact and UTF-8).
    return orjson.dumps(body).decode()


def slack_channel(channel: str) -> str:
    """'slack:T1:C1' -> 'C1'."""
    return channel.rsplit(":", 1)[-1]


def slack_team(channel: str) -> str:
    """'slack:T1:C1' -> 'T1': the installation's key (an enterprise, 'E1', when org-wide)."""
    return channel.split(":")[1]


class SlackPoster:
    """Posts public digests to Slack channels."""

    platform = "slack"
    min_interval = 1.0  # chat.postMessage: about one message per second per channel

    def __init__(self, client: AsyncWebClient, tokens: Tokens | None = None) -> None:
        self.client = client
        self.tokens: Tokens = tokens or OneToken()
        # every channel at the same step of a target gets the same prompts (one object)
        self._discussion = ByIdentity(render_message, size=256)

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        payload = render_message(message)
        response = await self._call(
            self._post_message,
            channel,
            text=payload["text"],
            blocks=payload["blocks"],
            metadata={"event_type": EVENT_TYPE, "event_payload": {"delivery_id": delivery_id}},
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        if digest.discussion is None:
            return
        payload = self._discussion(digest.discussion)
        await self._call(
            self._post_message,
            channel,
            thread_ts=message_id,
            text=payload["text"],
            blocks=payload["blocks"],
            metadata={
                "event_type": DISCUSSION_EVENT_TYPE,
                "event_payload": {"delivery_id": delivery_id},
            },
            unfurl_links=False,
        )

    async def find_discussion(self, channel: str, message_id: str, delivery_id: str) -> bool:
        response = await self._call(
            self.client.conversations_replies,
            channel,
            ts=message_id,
            include_all_metadata=True,
            limit=200,
        )
        return any(
            _carries(found, DISCUSSION_EVENT_TYPE, delivery_id)
            for found in response.get("messages") or []
        )

    async def find_post(self, channel: str, delivery_id: str, since: datetime) -> str | None:
        cursor = None
        for _ in range(HISTORY_PAGES):
            response = await self._call(
                self.client.conversations_history,
                channel,
                oldest=f"{since.timestamp():.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for found in response.get("messages") or []:
                if _carries(found, EVENT_TYPE, delivery_id):
                    return str(found["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    async def _post_message(self, **body: Any) -> AsyncSlackResponse:
        """chat.postMessage through slack_sdk's generic ``api_call``, with the same JSON
        body: its ``chat_postMessage`` first walks every block looking for its own Block
        objects (ours are plain dicts), about a tenth of what a post costs us in CPU."""
        return await self.client.api_call("chat.postMessage", json=body)

    async def _call(
        self, method: Callable[..., Awaitable[AsyncSlackResponse]], channel: str, **params: Any
    ) -> Any:
        """One Web API call in ``channel``'s workspace, with its token; Slack's refusals
        become DeliveryError, lost answers propagate."""
        try:
            token = await self.tokens.for_team(slack_team(channel))
        except NotInstalled as problem:
            raise DeliveryError(str(problem), permanent=True) from None
        try:
            return await method(channel=slack_channel(channel), **params, **with_token(token))
        except SlackApiError as problem:
            response = problem.response
            # A proxy's 502 page is text, not Slack's JSON: judged by its status alone.
            data = response.data if isinstance(response.data, dict) else {}
            error = str(data.get("error") or f"HTTP {response.status_code}")
            if response.status_code == 429 or error == "ratelimited":
                wait = _header(response.headers, "retry-after")
                raise DeliveryError(
                    "Slack rate limit", retry_after=float(wait) if wait else 1.0
                ) from None
            if error in PERMANENT:
                raise DeliveryError(f"{error}: {PERMANENT[error]}", permanent=True) from None
            if response.status_code >= 500 or error in AMBIGUOUS:
                # Slack failed mid-way: the post may exist, so the deliverer looks first
                raise DeliveryError(f"Slack answered {error}", unknown=True) from None
            raise DeliveryError(f"Slack answered {error}") from None


def _carries(message: dict[str, Any], event_type: str, delivery_id: str) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return bool(
        metadata.get("event_type") == event_type and payload.get("delivery_id") == delivery_id
    )


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None
