"""Every search hit is reachable by paging, on every surface: text, Slack and Discord.

Each walk starts at the first page and follows the surface's own "next page" control
(the text's hint, Slack's Next button, Discord's Page N ▶ button), collecting the
projects shown, until there is no next page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from roadmap_bot.adapters.discord.embeds import render as render_discord
from roadmap_bot.adapters.slack.blocks import render_message
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.chat.replies import Reply

QUERY = "search go"  # 47 hits: five pages of ten


def _urls(text: str) -> list[str]:
    return re.findall(r"https://github\.com/thxtech/ossarch/blob/main/oss/[^/]+/README\.md", text)


def text_page(reply: Reply) -> tuple[list[str], str | None]:
    text = render_text(reply)
    names = []
    for line in text.splitlines():
        found = re.match(r"^  . (\S.*?)(?: \([a-z0-9.-]+\))? - ", line)
        if found:
            names.append(found.group(1))
    following = re.search(r"'(search go page \d+)' for more", text)
    return names, following.group(1) if following else None


def slack_page(reply: Reply) -> tuple[list[str], str | None]:
    message = render_message(reply)
    shown = [
        url
        for block in message["blocks"]
        if block["type"] == "section" and "accessory" in block
        for url in _urls(block["text"]["text"])
    ]
    following = None
    for block in message["blocks"]:
        for element in block.get("elements", []):
            label = element.get("text")
            if isinstance(label, dict) and label.get("text") == "Next ▶":
                following = element["value"]
    return shown, following


def discord_page(reply: Reply) -> tuple[list[str], str | None]:
    message = render_discord(reply)
    shown = _urls(message.embeds[0]["description"])
    following = None
    for button in message.buttons:
        if button.label.endswith("▶"):
            following = button.custom_id.removeprefix("rb:p:")
    return shown, following


async def walk(
    roadmap: Roadmap, asker: Asker, page: Callable[[Reply], tuple[list[str], str | None]]
) -> tuple[list[str], list[str]]:
    """(everything shown, the commands followed) from the first page to the last."""
    shown: list[str] = []
    followed = [QUERY]
    command: str | None = QUERY
    while command is not None:
        items, command = page(await roadmap.ask(command, asker))
        shown += items
        if command is not None:
            followed.append(command)
        assert len(followed) <= 10, "paging does not end"
    return shown, followed


async def test_text_pages_reach_every_hit_once(roadmap: Roadmap, alice: Asker) -> None:
    shown, followed = await walk(roadmap, alice, text_page)
    expected = [hit.project.name for hit in roadmap.index.search("go").hits]
    assert len(expected) == 47
    assert shown == expected  # each once, in rank order: page 2 never repeats page 1
    assert followed == [QUERY, *(f"{QUERY} page {n}" for n in range(2, 6))]


async def test_slack_pages_reach_every_hit_once(roadmap: Roadmap, alice: Asker) -> None:
    shown, followed = await walk(roadmap, alice, slack_page)
    expected = [hit.project.report_url for hit in roadmap.index.search("go").hits]
    assert shown == expected
    assert len(followed) == 5


async def test_discord_pages_reach_every_hit_once(roadmap: Roadmap, alice: Asker) -> None:
    shown, followed = await walk(roadmap, alice, discord_page)
    expected = [hit.project.report_url for hit in roadmap.index.search("go").hits]
    assert shown == expected
    assert len(followed) == 5


async def test_a_page_past_the_end_names_the_last_page(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask(f"{QUERY} page 99", alice)
    text = render_text(reply)
    assert "page 5 of 5, the last: there is no page 99" in text
    names, following = text_page(reply)
    assert len(names) == 7 and following is None
    slack: Any = render_message(reply)
    assert "Page 5 of 5" in str(slack["blocks"])
    assert "Page 5 of 5" in render_discord(reply).embeds[0]["footer"]["text"]


async def test_the_title_counts_every_match(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask(QUERY, alice)
    assert reply.title == "Search results for 'go' (47)"
    assert len(reply.items) == 47
    assert "best" not in render_text(reply)
