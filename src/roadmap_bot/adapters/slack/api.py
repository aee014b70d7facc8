"""The Slack Web API client: base URL from settings, retries for 429s and transient errors.

slack_sdk's async retry handlers do the work. Ours differ in one way: the rate-limit
handler waits exactly what Retry-After says (fractions too) through an injectable
sleep, so tests and benchmarks can drive 429s without real waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from roadmap_bot import metrics
from roadmap_bot.config import ConfigError, Settings

SLACK_API_URL = "https://slack.com/api/"
MAX_RETRY_AFTER = 120.0  # seconds; a longer wait is Slack asking us to stop, not to wait
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})

Sleep = Callable[[float], Awaitable[None]]

api_log = logging.getLogger("roadmap_bot.slack.api")
# The SDK clients' own logger. slack_sdk formats a dump of every request and response
# (response_urls and whole messages included) whenever this logger's *own* level is
# DEBUG or unset, even when nothing is emitted: pinning it to INFO keeps those dumps
# out of the logs and their cost out of every call.
sdk_log = logging.getLogger("roadmap_bot.slack.sdk")
sdk_log.setLevel(logging.INFO)


def retry_after(response: HttpResponse) -> float:
    """Seconds from a Retry-After header (1 when missing or unreadable)."""
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return min(max(float(value), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                break
    return 1.0


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 after exactly the Retry-After the server asked for."""

    def __init__(self, max_retry_count: int = 3, sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:  # pragma: no cover - only called for a 429 response
            raise error or RuntimeError("rate limited without a response")
        state.next_attempt_requested = True
        metrics.rate_limited("slack")
        wait = retry_after(response)
        api_log.info("Slack rate limit on %s: retrying in %.2f s", request.url, wait)
        await self.sleep(wait)
        state.increment_current_attempt()


class _Backoff(AsyncRetryHandler):
    """Exponential backoff with jitter (slack_sdk's calculator), slept through ``sleep``."""

    sleep: Sleep = staticmethod(asyncio.sleep)

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        api_log.info(
            "Slack call to %s failed (%s): retrying in %.2f s",
            request.url,
            _why(response, error),
            wait,
        )
        await self.sleep(wait)
        state.increment_current_attempt()


class ServerErrorRetry(_Backoff):
    """Retries 500/502/503/504."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in TRANSIENT_STATUSES


class ConnectionRetry(_Backoff, AsyncConnectionErrorRetryHandler):
    """Retries dropped and refused connections."""


def _why(response: HttpResponse | None, error: Exception | None) -> str:
    if response is not None:
        return f"HTTP {response.status_code}"
    return type(error).__name__ if error is not None else "unknown"


def retry_handlers(
    *, sleep: Sleep = asyncio.sleep, backoff: float = 0.5, attempts: int = 3
) -> list[AsyncRetryHandler]:
    """429s (Retry-After), 5xx and dropped connections (backoff), each ``attempts`` times."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    server = ServerErrorRetry(max_retry_count=attempts, interval_calculator=interval)
    connection = ConnectionRetry(max_retry_count=attempts, interval_calculator=interval)
    server.sleep = connection.sleep = sleep
    return [RateLimitRetry(max_retry_count=attempts, sleep=sleep), server, connection]


def web_client(
    settings: Settings, *, handlers: list[AsyncRetryHandler] | None = None, **options: Any
) -> AsyncWebClient:
    """The bot's Web API client, pointed at ``SLACK_API_URL`` when set.

    With OAuth installs it carries no token of its own: each call names its workspace's.
    """
    if not settings.slack_configured:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    token = settings.slack_bot_token
    return AsyncWebClient(
        token=token.get_secret_value() if token is not None else None,
        base_url=settings.slack_api_url or SLACK_API_URL,
        timeout=options.pop("timeout", 15),
        retry_handlers=handlers if handlers is not None else retry_handlers(),
        logger=sdk_log,
        **options,
    )
