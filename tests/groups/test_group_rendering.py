"""`group` on each platform: the same grid as Block Kit, a Discord embed and aligned text,
within each platform's limits, with members' names shown as typed and never as markup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fakes.discord_server import message_problems
from fakes.slack_driver import assert_valid
from fakes.slack_requests import visible_text
from roadmap_bot.adapters.discord.embeds import render
from roadmap_bot.adapters.slack.blocks import render_message
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.chat.replies import Reply
from roadmap_bot.groups.digest import plan
from roadmap_bot.groups.group_view import group_reply
from roadmap_bot.groups.standing import standing
from roadmap_bot.learning.catalog import Catalog
from roadmap_bot.store import Mark, Status

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NAMES = [
    "<!channel>",
    "`code` ```",
    "ann",
    "Bartholomew Longname-Smythe",
    *[f"m{i}" for i in range(8)],
]


@pytest.fixture
def big_group(catalog: Catalog) -> list[Reply]:
    """12 members over the 38-step advanced level, this week at step 5: both pages."""
    target = "level:advanced"
    steps = plan(catalog, target)
    covered = {s: "posted" for s in steps[:5]}
    marks = {
        f"slack:T1:U{i}": {
            s: Mark(Status.DONE if (i + n) % 3 else Status.READING, AT)
            for n, s in enumerate(steps[: i + 1])
        }
        for i in range(len(NAMES))
    }
    names = {f"slack:T1:U{i}": name for i, name in enumerate(NAMES)}
    found = standing(catalog, target, covered, steps[:5], marks, names, {})
    return [group_reply(found, 1), group_reply(found, 2)]


def test_slack_draws_a_compact_grid_with_a_legend_and_a_text_fallback(
    big_group: list[Reply],
) -> None:
    for reply in big_group:
        message = render_message(reply)
        assert_valid(message)
    first = render_message(big_group[1])  # the least read: '<!channel>' is on page 2
    grid = next(
        b["text"]["text"]
        for b in first["blocks"]
        if b.get("text", {}).get("text", "").startswith("```")
    )
    assert "&lt;!channel&gt;" in grid and "<!channel>" not in grid  # shown, never a broadcast
    assert grid.count("\n") == 4  # tens, units, the "this week" marker, page 2: 2 members
    assert "✓ done" in visible_text(first) and "· not yet" in visible_text(first)
    assert (
        "&lt;!channel&gt;: reading 1 (behind by 4" in first["text"]
    )  # the grid in words for notifications


def test_discord_draws_the_grid_in_an_embed_within_limits(big_group: list[Reply]) -> None:
    for reply in big_group:
        message = render(reply)
        assert message_problems(message.payload()) == []
        assert message.ephemeral
    description = render(big_group[1]).embeds[0]["description"]
    assert description.count("```") == 2  # a backtick in a name cannot close the block
    assert "<!channel>" in description


def test_text_is_an_aligned_table(big_group: list[Reply]) -> None:
    text = render_text(big_group[0])
    rows = [line for line in text.splitlines() if line.startswith(("m6 ", "m7 "))]
    assert len(rows) == 2
    assert rows[0].index("  ") == rows[1].index("  ")  # names padded to one width
    assert len({len(r.split("  ")[0].rstrip()) for r in rows}) == 1
    header = next(line for line in text.splitlines() if line.startswith("step "))
    assert header.endswith("1234567890123456789012345678")  # units of steps 1..38
