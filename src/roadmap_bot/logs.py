"""Logging set-up, and the redaction every log record goes through.

Libraries log what they send and receive at DEBUG (discord.py the interaction callback
URLs, which hold the interaction token; Bolt and slack_sdk request bodies with their
``response_url``; aiohttp request lines), and an exception's message may quote a URL. So
redaction is not left to each call site: a log-record factory rewrites every record of
every logger, at every level, before any handler (ours, a library's, pytest's) sees it.

Two kinds of secret are removed: the configured ones, by value (whatever their shape),
and those that arrive at run time, by shape: Slack tokens, Discord bot tokens,
interaction and webhook tokens in URL paths, Slack response/webhook URLs, bearer
headers, ``token=`` / ``ticket=`` parameters and ``"token": ...`` fields.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "[redacted]"

# (hints, pattern, replacement): a pattern runs only when one of its hints (lowercase
# substrings) is in the lowercased text, or its hint pattern matches. Most log lines hold
# no secret, and checking hints costs a fraction of running every pattern over them.
Hint = tuple[str, ...] | re.Pattern[str]
_SHAPES: tuple[tuple[Hint, re.Pattern[str], str], ...] = (
    # Slack bot, user, app and config tokens
    (("xox",), re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]+"), "xox-" + REDACTED),
    (("xapp-",), re.compile(r"\bxapp-[A-Za-z0-9-]+"), "xapp-" + REDACTED),
    # a Discord bot token: three base64url parts (user id, timestamp, HMAC)
    (
        re.compile(r"\.[A-Za-z\d_-]{6,7}\."),
        re.compile(r"(?<![A-Za-z\d_-])[A-Za-z\d_-]{23,28}\.[A-Za-z\d_-]{6,7}\.[A-Za-z\d_-]{27,}"),
        REDACTED,
    ),
    # Discord interaction callbacks and webhooks carry their token in the path
    (
        ("/interactions/", "/webhooks/"),
        re.compile(r"(/(?:interactions|webhooks)/\d+/)[^/\s?#'\"]+"),
        r"\1" + REDACTED,
    ),
    # Slack's response_urls, incoming webhooks and workflow triggers
    (
        ("hooks.slack.com",),
        re.compile(r"(hooks\.slack\.com(?:/|%2F))[^\s'\"<>&]+", re.IGNORECASE),
        r"\1" + REDACTED,
    ),
    (
        ("response_url",),
        re.compile(r"(response_url['\"]?\s*(?:=|:)\s*['\"]?)[^\s'\"&,}]+", re.IGNORECASE),
        r"\1" + REDACTED,
    ),
    # Authorization headers
    (("bearer",), re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + REDACTED),
    (
        ("authorization",),
        re.compile(r"(Authorization['\"]?\s*[:=]\s*['\"]?Bot\s+)[^'\"\s,}]+", re.IGNORECASE),
        r"\1" + REDACTED,
    ),
    # token=... in a query string or form body; Socket Mode's ticketed URL; an OAuth
    # redirect's one-time code and the client secret exchanged for it
    (
        ("token=", "ticket=", "code=", "secret="),
        re.compile(
            r"(?<![A-Za-z_])((?:token|ticket|code|client_secret)=)[^&\s'\"]+", re.IGNORECASE
        ),
        r"\1" + REDACTED,
    ),
    # "token": "..." in a logged payload (an interaction's own token is one)
    (
        ("token", "secret"),
        re.compile(
            r"(['\"](?:[a-z_]*token|signing_secret|client_secret)['\"]\s*:\s*['\"])[^'\"]+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
)


class Redactor:
    """Removes secrets from text: the configured values, and anything shaped like one."""

    def __init__(self) -> None:
        self._values: tuple[str, ...] = ()

    def add_values(self, values: Iterable[str | None]) -> None:
        """Secrets known by value (the configured tokens and signing secret)."""
        # Short values would blank out ordinary words; real secrets are long.
        known = {v for v in (*self._values, *(x for x in values if x)) if len(v) >= 6}
        self._values = tuple(sorted(known, key=len, reverse=True))  # longest first

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        folded = text.lower()
        for hint, pattern, replacement in _SHAPES:
            if isinstance(hint, re.Pattern):
                if not hint.search(text):
                    continue
            elif not any(h in folded for h in hint):
                continue
            text = pattern.sub(replacement, text)
        return text


redact = Redactor()


def _redacting(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record as the logging module would
            return record
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            # The formatter uses exc_text when set: render the traceback once, redacted.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    make.redacting = True  # type: ignore[attr-defined]
    return make


def install_redaction(secrets: Iterable[str | None] = ()) -> None:
    """Redact every log record from now on, from every logger; idempotent."""
    redact.add_values(secrets)
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacting", False):
        logging.setLogRecordFactory(_redacting(factory))


def configure_logging(level: str, *, quiet: bool, secrets: Iterable[str | None] = ()) -> None:
    """Log to stderr, redacted; one-shot commands (``quiet``) show warnings and errors only."""
    install_redaction(secrets)
    number = logging.getLevelName(level)
    logging.basicConfig(
        level=max(number, logging.WARNING) if quiet else number,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class WarningLimiter:
    """At most ``limit`` warnings a ``window`` seconds; the next one says how many were held back."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        limit: int = 10,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.limit = limit
        self.window = window
        self.clock = clock
        self._started = -window
        self._count = 0
        self._held = 0

    def warn(self, message: str, *args: object) -> None:
        now = self.clock()
        if now - self._started >= self.window:
            self._started, self._count = now, 0
        if self._count >= self.limit:
            self._held += 1
            return
        self._count += 1
        if self._held:
            message += f" ({self._held} more like it not logged)"
            self._held = 0
        self.logger.warning(message, *args)
