"""Slack's escaped command text is read as the user typed it.

Slack sends '& < >' as entities and turns links, channels, mentions and broadcasts into
'<...>' forms. Each shape goes through a signed slash command to the running app; the
answer echoes what the core read (shown escaped once, as Slack displays it).
"""

from __future__ import annotations

import pytest

from fakes.slack_driver import SlackDriver
from fakes.slack_requests import visible_text


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("c++ &amp; rust", "c++ &amp; rust"),  # was 'c++ &amp;amp; rust'
        ("&lt;tag&gt;", "&lt;tag&gt;"),
        ("&amp;lt;", "&amp;lt;"),  # the user typed '&lt;' itself
        ("<https://example.org/a?b=1&amp;c=2|my notes>", "my notes"),
        ("<https://example.org/a?b=1&amp;c=2>", "https://example.org/a?b=1&amp;c=2"),
        ("<mailto:ops@example.org|ops@example.org>", "ops@example.org"),
        ("<#C123|random>", "#random"),
        ("<#C123>", "#C123"),
        ("<@U2|bob>", "@bob"),
        ("<@U2>", "@bob"),  # no name in the request: looked up
        ("<@UNOBODY>", "@UNOBODY"),  # no one Slack knows: the id
        ("<!here>", "@here"),
        ("<!channel>", "@channel"),
        ("<!everyone>", "@everyone"),
        ("<!subteam^S1|@devs>", "@devs"),
    ],
)
async def test_each_slack_form_reads_as_typed(slack: SlackDriver, sent: str, read: str) -> None:
    answer = visible_text(await slack.command(f"search zzq {sent}"))
    assert f"Nothing matches 'zzq {read}'." in answer


async def test_a_pasted_link_is_understood_by_its_label(slack: SlackDriver) -> None:
    card = await slack.command("project <https://redis.io|redis>")
    assert card["blocks"][0]["text"]["text"] == "Redis"
    assert "Your status" in visible_text(card)


async def test_an_ampersand_search_finds_what_was_typed(slack: SlackDriver) -> None:
    escaped = visible_text(await slack.command("search raft &amp; consensus"))
    plain = visible_text(await slack.command("search raft & consensus"))
    assert escaped == plain
    assert "&amp;amp;" not in escaped
