"""Secrets never reach a log line: the redaction every record goes through."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from roadmap_bot.logs import REDACTED, Redactor, install_redaction, redact


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("token xoxb-123-456-abcDEF sent", "token xox-[redacted] sent"),
        ("app xapp-1-A1-2-abc", "app xapp-[redacted]"),
        (
            "POST https://discord.com/api/v10/interactions/1234/aW50ZXJhY3Rpb246dG9rZW4/callback",
            "POST https://discord.com/api/v10/interactions/1234/[redacted]/callback",
        ),
        (
            "PATCH /api/v10/webhooks/987/interaction-token-55/messages/@original",
            "PATCH /api/v10/webhooks/987/[redacted]/messages/@original",
        ),
        (
            "posting to https://hooks.slack.com/commands/T1/123/abcDEF now",
            "posting to https://hooks.slack.com/[redacted] now",
        ),
        (
            "body=token=legacy&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1&text=hi",
            "body=token=[redacted]&response_url=[redacted]&text=hi",
        ),
        ("{'response_url': 'http://127.0.0.1:5/response/r1'}", "{'response_url': '[redacted]'}"),
        ('{"token": "interaction-token-1", "id": "2"}', '{"token": "[redacted]", "id": "2"}'),
        ("{'Authorization': 'Bot fake-token-123'}", "{'Authorization': 'Bot [redacted]'}"),
        ("Authorization: Bearer xyzxyzxyz123", "Authorization: Bearer [redacted]"),
        (
            "wss://wss-primary.slack.com/link/?ticket=abc-123&app_id=A1",
            "wss://wss-primary.slack.com/link/?ticket=[redacted]&app_id=A1",
        ),
        (
            "MTA1234567890123456789012.GhIjKl.abcdefghijklmnopqrstuvwxyz0123",
            REDACTED,
        ),
        (
            "GET /slack/oauth_redirect?code=1234.5678.abcd&state=s1",
            "GET /slack/oauth_redirect?code=[redacted]&state=s1",
        ),
        (
            "client_id=1.2&client_secret=abc123&code=x",
            "client_id=1.2&client_secret=[redacted]&code=[redacted]",
        ),
        ("Bot connected as roadmap-bot#0001", "Bot connected as roadmap-bot#0001"),
        ("delivered 3, already delivered 0", "delivered 3, already delivered 0"),
    ],
)
def test_shapes_of_secrets_are_redacted(text: str, kept: str) -> None:
    assert Redactor()(text) == kept


def test_configured_values_are_redacted_whatever_their_shape() -> None:
    redactor = Redactor()
    redactor.add_values(["my-signing-secret", None, "abc"])  # too short to be a secret
    assert redactor("secret is my-signing-secret, abc") == "secret is [redacted], abc"


@pytest.fixture
def redacting() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    install_redaction(["s3cr3t-value"])
    yield
    logging.setLogRecordFactory(factory)
    redact.add_values([])


def test_every_logger_and_level_and_traceback_is_redacted(
    redacting: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("discord.webhook.async_", "slack_bolt.App", "aiohttp.access", "roadmap_bot.x"):
        logging.getLogger(name).debug(
            "calling %s with %s", "/interactions/1/tok-abc/callback", "s3cr3t-value"
        )
    try:
        raise RuntimeError("failed POST https://hooks.slack.com/actions/T1/2/xyz")
    except RuntimeError:
        logging.getLogger("discord.client").exception("boom with %s", "xoxb-1-2-3")
    assert "tok-abc" not in caplog.text and "s3cr3t-value" not in caplog.text
    assert "hooks.slack.com/actions" not in caplog.text and "xoxb-1-2-3" not in caplog.text
    assert caplog.text.count("/interactions/1/[redacted]/callback") == 4
    assert "RuntimeError: failed POST https://hooks.slack.com/[redacted]" in caplog.text
