"""A card shared to a channel is the same for everyone; each click answers the clicker."""

from __future__ import annotations

from fakes.slack_driver import SlackDriver
from fakes.slack_requests import button_labeled, buttons, visible_text


def labels(message: dict[str, object]) -> list[str]:
    return [b["text"]["text"] for b in buttons(message)]


async def test_a_shared_card_shows_no_ones_undo_and_answers_each_clicker(
    slack: SlackDriver,
) -> None:
    await slack.command("done redis")
    private = await slack.command("project redis")
    assert "Undo" in labels(private)  # alice's own card: she finished it
    shared = await slack.click(button_labeled(private, "Share to channel"))
    assert shared["response_type"] == "in_channel"
    assert "Undo" not in labels(shared)
    assert labels(shared)[0] == "Mark done"
    assert "Open report" in labels(shared)
    assert any(label.startswith("Next in") for label in labels(shared))
    assert "Your status" not in visible_text(shared)  # alice's status is hers

    bob = await slack.click(
        button_labeled(shared, "Mark done"), user="U2", user_name="bob", ephemeral=False
    )
    assert bob["response_type"] == "ephemeral" and bob["replace_original"] is False
    assert "Marked Redis as done" in bob["text"]
    alice = await slack.click(button_labeled(shared, "Mark done"), ephemeral=False)
    assert alice["response_type"] == "ephemeral"
    assert "Redis was already marked" in alice["text"]


async def test_a_shared_path_shows_each_reader_their_own_place(slack: SlackDriver) -> None:
    await slack.command("follow observability-stack")
    private = await slack.command("path observability-stack")
    assert "Unfollow this path" in labels(private)
    shared = await slack.click(button_labeled(private, "Share to channel"))
    assert "Unfollow this path" not in labels(shared)
    assert "Follow this path" in labels(shared)
    mine = await slack.click(
        button_labeled(shared, "My place in this path"), user="U2", user_name="bob",
        ephemeral=False,
    )  # fmt: skip
    assert mine["response_type"] == "ephemeral"
    assert "Unfollow this path" not in labels(mine)  # bob follows nothing
