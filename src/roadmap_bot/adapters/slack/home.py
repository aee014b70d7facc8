"""The App Home tab: the asker's progress and their current pick, as the core says them.

When a button on the Home tab runs a command, its answer is shown at the top of the
tab (a Home tab has no thread to answer in), above the refreshed progress.
"""

from __future__ import annotations

from typing import Any

from roadmap_bot.adapters.slack.blocks import (
    MESSAGE_BLOCKS,
    VIEW_BLOCKS,
    ActionIds,
    context,
    divider,
    render_blocks,
)
from roadmap_bot.chat.replies import Reply

PROGRESS_BLOCKS = 30
PICK_BLOCKS = VIEW_BLOCKS - MESSAGE_BLOCKS - PROGRESS_BLOCKS - 2  # two dividers


def home_view(progress: Reply, pick: Reply, answer: Reply | None = None) -> dict[str, Any]:
    """A ``home`` view: an optional answer, then progress per level and path, then the pick."""
    ids = ActionIds()
    blocks: list[dict[str, Any]] = []
    if answer is not None:
        blocks.extend(render_blocks(answer, share=False, ids=ids, max_blocks=MESSAGE_BLOCKS))
        blocks.append(divider())
    blocks.extend(render_blocks(progress, share=False, ids=ids, max_blocks=PROGRESS_BLOCKS))
    blocks.append(divider())
    blocks.extend(render_blocks(pick, share=False, ids=ids, max_blocks=PICK_BLOCKS - 1))
    blocks.append(context("Type `/roadmap help` in any channel for every command."))
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS]}
