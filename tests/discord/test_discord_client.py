"""The real discord.py client against the fake Discord: what users see for each interaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from fakes.discord_people import ALICE, BOB, MODERATOR
from fakes.discord_server import (
    AUTOCOMPLETE_RESULT,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE,
    UPDATE_MESSAGE,
    FakeDiscord,
    FakeUser,
    snowflake,
)
from roadmap_bot.adapters.discord.client import RoadmapClient, commands_hash
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import STALE_BUTTON, Reply, ReplyKind
from roadmap_bot.store.sql import SqlStore

StartBot = Callable[..., Any]
STALE = STALE_BUTTON.title


def alice_id(fake: FakeDiscord) -> str:
    return f"discord:{fake.guild.id}:{ALICE.id}"


# -- start-up ----------------------------------------------------------------------------------


async def test_login_syncs_the_roadmap_group_to_the_guild(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    assert fake.syncs == [str(fake.guild.id)]
    (roadmap,) = fake.commands[str(fake.guild.id)]
    subcommands = {o["name"]: o for o in roadmap["options"]}
    assert set(subcommands) == {
        "help", "level", "project", "report", "paths", "path", "search", "next", "done",
        "undo", "progress", "random", "reading", "pass", "subscribe", "unsubscribe",
        "schedule", "skip", "pause", "resume", "digest", "group", "dashboard", "follow",
    }  # fmt: skip
    assert len(subcommands) <= 25  # Discord's limit for one group
    follow = {o["name"]: o for o in subcommands["follow"]["options"]}
    assert follow["name"]["autocomplete"] is True and follow["stop"]["type"] == 5  # boolean
    project_name = subcommands["project"]["options"][0]
    assert project_name["autocomplete"] is True and project_name["max_length"] == 60
    levels = subcommands["level"]["options"][0]["choices"]
    assert [c["value"] for c in levels] == ["beginner", "intermediate", "advanced"]
    assert subcommands["progress"]["options"][0]["type"] == 6  # a member picker
    assert bot.synced is True
    # Only the guilds intent: nothing privileged, no message content.
    assert fake.identifies[0]["intents"] == 1


async def test_a_restart_does_not_sync_unchanged_commands(
    fake: FakeDiscord, start_bot: StartBot, roadmap: Roadmap
) -> None:
    first = await start_bot()
    await first.close()
    second = await start_bot()
    assert second.synced is False
    assert fake.syncs == [str(fake.guild.id)]
    # A stored hash that no longer matches the definitions (they changed): sync again.
    key = f"discord.commands.{fake.application_id}.{fake.guild.id}"
    await roadmap.store.set_meta(key, commands_hash([{"name": "older"}]))
    await second.close()
    third = await start_bot()
    assert third.synced is True
    assert fake.syncs == [str(fake.guild.id)] * 2


async def test_without_a_guild_commands_sync_globally(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    await start_bot(guild_id=None)
    assert fake.syncs == ["global"]
    assert fake.commands["global"][0]["contexts"] == [0, 1]  # servers and DMs with the bot


async def test_a_failed_sync_is_reported_and_the_bot_keeps_running(
    fake: FakeDiscord, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("PUT", r"/applications/\d+/guilds/\d+/commands", 403)
    bot = await start_bot()
    assert bot.synced is False
    assert "applications.commands" in caplog.text and "oauth2/authorize" in caplog.text


async def test_the_invite_url_is_logged(
    fake: FakeDiscord, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    await start_bot()
    invite = next(r.getMessage() for r in caplog.records if "invite" in r.getMessage())
    assert f"client_id={fake.application_id}" in invite
    assert "scope=bot+applications.commands" in invite
    assert fake.token not in caplog.text


# -- slash commands ----------------------------------------------------------------------------


async def test_a_project_card_goes_to_the_asker_only(fake: FakeDiscord, bot: RoadmapClient) -> None:
    shown = await (await fake.slash("project", {"name": "redis"}, user=ALICE)).answer()
    assert shown.type == CHANNEL_MESSAGE and shown.ephemeral
    assert shown.title == "Redis"
    assert "one thread serves every command" in shown.text
    assert "Your status\nnot read yet" in shown.text
    assert shown.labels == [
        "Mark done",
        "Next in path: Apache Kafka",
        "Open report",
        "Share to channel",
    ]
    assert fake.rejected == [] and fake.unhandled == []


async def test_replies_never_ping_anyone(fake: FakeDiscord, bot: RoadmapClient) -> None:
    sent = await fake.slash("search", {"text": "@everyone"}, user=ALICE)
    shown = await sent.answer()
    assert "@everyone" in shown.text
    assert sent.callbacks[0]["data"]["allowed_mentions"] == {"parse": []}


async def test_bad_input_gets_did_you_mean_buttons_that_work(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    shown = await (await fake.slash("project", {"name": "redsi"}, user=ALICE)).answer()
    assert shown.title == "I don't know a project called 'redsi'."
    assert "project redis" in shown.labels
    card = await (await fake.click(shown, "project redis", user=ALICE)).answer()
    assert card.title == "Redis"


@pytest.mark.parametrize(
    ("subcommand", "options", "title"),
    [
        ("help", {}, "roadmap-bot: learn how great systems are built"),
        ("help", {"topic": "search"}, "/roadmap search TEXT"),
        ("level", {"level": "beginner"}, "Beginner projects (11)"),
        ("paths", {}, "Learning paths (7)"),
        ("path", {"name": "observability"}, "Observability Stack"),
        ("search", {"text": "raft"}, "Projects that teach Raft consensus (12)"),
        ("next", {}, "Read next: fzf"),
        ("undo", {"name": "fzf"}, "fzf had no mark, so there was nothing to undo."),
        ("random", {"level": "advanced"}, None),
    ],
)
async def test_each_subcommand_answers_like_the_core(
    fake: FakeDiscord,
    bot: RoadmapClient,
    roadmap: Roadmap,
    subcommand: str,
    options: dict[str, Any],
    title: str | None,
) -> None:
    shown = await (await fake.slash(subcommand, options, user=ALICE)).answer()
    if title is None:  # random: some advanced project
        advanced = {
            p.name for p in roadmap.catalog.projects if p.level and p.level.value == "advanced"
        }
        assert shown.title in advanced
    else:
        assert shown.title == title


async def test_done_then_progress(fake: FakeDiscord, bot: RoadmapClient, roadmap: Roadmap) -> None:
    shown = await (await fake.slash("done", {"name": "fzf"}, user=ALICE)).answer()
    assert shown.title == "Marked fzf as done. Nice work!"
    assert await roadmap.store.progress(alice_id(fake)) != {}
    progress = await (await fake.slash("progress", {}, user=ALICE)).answer()
    assert progress.title == "Your progress"
    assert "1 of 100 reports read." in progress.text
    assert "`█░░░░░░░░░ 1/11` Beginner" in progress.text


async def test_progress_of_a_member(fake: FakeDiscord, bot: RoadmapClient) -> None:
    await (await fake.slash("done", {"name": "redis"}, user=ALICE)).answer()
    theirs = await (
        await fake.slash("progress", {"member": str(ALICE.id)}, user=BOB, resolved_users=[ALICE])
    ).answer()
    assert theirs.title == "alice's progress"
    assert "1 of 100 reports read." in theirs.text
    carol = FakeUser(snowflake(), "carol")
    nobody = await (
        await fake.slash("progress", {"member": str(carol.id)}, user=BOB, resolved_users=[carol])
    ).answer()
    assert nobody.title == "carol has no progress yet."


# -- buttons -----------------------------------------------------------------------------------


async def test_mark_done_button_marks_the_clicker(
    fake: FakeDiscord, bot: RoadmapClient, roadmap: Roadmap
) -> None:
    card = await (await fake.slash("project", {"name": "redis"}, user=ALICE)).answer()
    done = await (await fake.click(card, "Mark done", user=ALICE)).answer()
    assert done.type == CHANNEL_MESSAGE and done.ephemeral
    assert done.title == "Marked Redis as done. Nice work!"
    assert "redis" in await roadmap.store.progress(alice_id(fake))
    undone = await (await fake.click(done, "Undo", user=ALICE)).answer()
    assert undone.title == "Removed your 'done' mark on Redis."
    assert await roadmap.store.progress(alice_id(fake)) == {}


async def test_paging_replaces_the_private_message(fake: FakeDiscord, bot: RoadmapClient) -> None:
    first = await (await fake.slash("level", {"level": "advanced"}, user=ALICE)).answer()
    assert first.embed["footer"]["text"].endswith("Page 1 of 4")
    sent = await fake.click(first, "Page 2 ▶", user=ALICE)
    second = await sent.answer()
    assert second.type == UPDATE_MESSAGE
    assert second.message is not None and first.message is not None
    assert second.message["id"] == first.message["id"]
    assert second.embed["footer"]["text"].endswith("Page 2 of 4")
    assert "◀ Page 1" in second.labels and "Page 3 ▶" in second.labels


async def test_share_posts_the_card_for_everyone(fake: FakeDiscord, bot: RoadmapClient) -> None:
    card = await (await fake.slash("project", {"name": "kafka"}, user=ALICE)).answer()
    shared = await (await fake.click(card, "Share to channel", user=ALICE)).answer()
    assert shared.type == CHANNEL_MESSAGE and not shared.ephemeral
    assert shared.title == "Apache Kafka"
    assert shared.embed["footer"]["text"].endswith("Shared by alice")
    assert "Share to channel" not in shared.labels
    # Paging someone's shared list pages privately, the shared message stays.
    page = await (await fake.slash("level", {"level": "advanced"}, user=ALICE)).answer()
    shared_list = await (await fake.click(page, "Share to channel", user=ALICE)).answer()
    private = await (await fake.click(shared_list, "Page 2 ▶", user=BOB)).answer()
    assert private.type == CHANNEL_MESSAGE and private.ephemeral
    assert shared_list.message is not None
    assert fake.messages[int(shared_list.message["id"])]["embeds"] == shared_list.embeds


async def test_a_shared_card_is_neutral_and_each_click_answers_the_clicker(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    await (await fake.slash("done", {"name": "redis"}, user=ALICE)).answer()
    card = await (await fake.slash("project", {"name": "redis"}, user=ALICE)).answer()
    assert "Undo" in card.labels  # alice's own card
    shared = await (await fake.click(card, "Share to channel", user=ALICE)).answer()
    assert not shared.ephemeral
    assert "Undo" not in shared.labels
    assert shared.labels[0] == "Mark done" and "Open report" in shared.labels
    assert any(label.startswith("Next in") for label in shared.labels)
    assert "Your status" not in shared.text
    bob = await (await fake.click(shared, "Mark done", user=BOB)).answer()
    assert bob.ephemeral and bob.title == "Marked Redis as done. Nice work!"
    alice = await (await fake.click(shared, "Mark done", user=ALICE)).answer()
    assert alice.ephemeral and alice.title.startswith("Redis was already marked")


async def test_buttons_still_work_after_a_restart(
    fake: FakeDiscord, start_bot: StartBot, roadmap: Roadmap
) -> None:
    first = await start_bot()
    card = await (await fake.slash("project", {"name": "etcd"}, user=ALICE)).answer()
    await first.close()
    await start_bot()  # a new process: nothing in memory about the old message
    done = await (await fake.click(card, "Mark done", user=ALICE)).answer()
    assert done.title == "Marked etcd as done. Nice work!"


async def test_a_button_from_an_unknown_version_explains_itself(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    old = fake._message(
        fake.guild.channel.id,
        {"components": [{"type": 1, "components": [
            {"type": 2, "style": 2, "label": "Old", "custom_id": "rb:z:next"}
        ]}]},
    )  # fmt: skip
    shown = await (await fake.click(old, "Old", user=ALICE)).answer()
    assert shown.ephemeral
    assert shown.title == STALE


@pytest.mark.parametrize("custom_id", ["undo:redis", "persistent_view:1", "rb-old"])
async def test_a_button_that_is_not_ours_is_answered_with_one_warning(
    fake: FakeDiscord, bot: RoadmapClient, caplog: pytest.LogCaptureFixture, custom_id: str
) -> None:
    old = fake._message(
        fake.guild.channel.id,
        {"components": [{"type": 1, "components": [
            {"type": 2, "style": 2, "label": "Old", "custom_id": custom_id}
        ]}]},
    )  # fmt: skip
    with caplog.at_level(logging.INFO):
        shown = await (await fake.click(old, "Old", user=ALICE)).answer()  # was: no callback
    assert shown.ephemeral
    assert shown.title == STALE
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"unknown Discord custom_id {custom_id!r}: answered as a stale button"]
    assert not any(r.exc_info for r in caplog.records)


# -- DMs, identity and permissions ---------------------------------------------------------------


async def test_in_a_dm_users_are_keyed_by_dm_and_nothing_is_shared(
    fake: FakeDiscord, start_bot: StartBot, roadmap: Roadmap
) -> None:
    await start_bot(guild_id=None)
    card = await (await fake.slash("project", {"name": "redis"}, user=ALICE, dm=True)).answer()
    assert card.title == "Redis" and "Share to channel" not in card.labels
    await (await fake.click(card, "Mark done", user=ALICE)).answer()
    assert "redis" in await roadmap.store.progress(f"discord:dm:{ALICE.id}")
    assert await roadmap.store.progress(alice_id(fake)) == {}


class _WhoAmI:
    pass


async def _answer_whoami(command: _WhoAmI, who: Asker) -> Reply:
    profile = await who.profile()
    return Reply(
        kind=ReplyKind.NOTICE,
        title=who.id,
        text=f"{who.name} in {who.channel}; manages channel: {profile.can_manage_channel}",
    )


async def test_the_asker_carries_ids_and_channel_permissions(
    fake: FakeDiscord, start_bot: StartBot, roadmap: Roadmap
) -> None:
    # A test-only command that shows the asker, reached through a button.
    grammar = roadmap.parse
    roadmap.parse = lambda text: _WhoAmI() if text == "whoami" else grammar(text)  # type: ignore[method-assign, assignment, return-value]
    roadmap.register(_WhoAmI, _answer_whoami)  # type: ignore[arg-type]
    await start_bot(guild_id=None)
    buttons = {"components": [{"type": 1, "components": [
        {"type": 2, "style": 2, "label": "Who", "custom_id": "rb:c:whoami"}
    ]}]}  # fmt: skip
    channel = fake.guild.channel.id
    message = fake._message(channel, buttons)
    mod = await (await fake.click(message, "Who", user=MODERATOR)).answer()
    assert mod.title == f"discord:{fake.guild.id}:{MODERATOR.id}"
    assert f"mod in discord:{fake.guild.id}:{channel}; manages channel: True" in mod.text
    member = await (await fake.click(message, "Who", user=ALICE)).answer()
    assert "manages channel: False" in member.text
    dm = await (await fake.slash("help", {}, user=ALICE, dm=True)).answer()
    assert dm.message is not None
    in_dm = fake._message(int(dm.message["channel_id"]), buttons)
    own = await (await fake.click(in_dm, "Who", user=ALICE)).answer()
    assert own.title == f"discord:dm:{ALICE.id}" and "manages channel: True" in own.text


# -- slow answers and failures -----------------------------------------------------------------


async def test_a_slow_answer_is_deferred_then_delivered(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    await start_bot(defer_after=0)  # every answer counts as slow
    sent = await fake.slash("project", {"name": "redis"}, user=ALICE)
    shown = await sent.answer()
    assert sent.callbacks[0]["type"] == DEFERRED_CHANNEL_MESSAGE
    assert sent.callbacks[0]["data"]["flags"] == 64  # "thinking…" only for the asker
    assert shown.deferred and shown.ephemeral and shown.title == "Redis"
    page = await (await fake.slash("level", {"level": "advanced"}, user=ALICE)).answer()
    click = await fake.click(page, "Page 2 ▶", user=ALICE)
    second = await click.answer()
    assert click.callbacks[0]["type"] == DEFERRED_UPDATE
    assert second.embed["footer"]["text"].endswith("Page 2 of 4")


async def test_a_failure_inside_still_answers(
    fake: FakeDiscord, bot: RoadmapClient, roadmap: Roadmap
) -> None:
    await roadmap.store.close()  # the database is gone
    shown = await (await fake.slash("next", {}, user=ALICE)).answer()
    assert shown.ephemeral
    assert shown.title == "Sorry, something went wrong on my side."


async def test_a_busy_database_is_told_as_such(
    fake: FakeDiscord, bot: RoadmapClient, busy_store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shown = await (await fake.slash("done", {"name": "redis"}, user=ALICE)).answer()
    assert shown.ephemeral
    assert shown.title == "The database is busy right now, so I could not answer."
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "answering a Discord interaction: the database is busy (database is locked); "
        "the person was asked to try again"
    ]
    assert not [r for r in caplog.records if r.exc_info]


# -- autocomplete ------------------------------------------------------------------------------


async def test_autocomplete_through_the_gateway(fake: FakeDiscord, bot: RoadmapClient) -> None:
    shown = await (await fake.autocomplete("project", "name", "raft", user=ALICE)).answer()
    assert shown.type == AUTOCOMPLETE_RESULT
    assert shown.choices is not None and 0 < len(shown.choices) <= 25
    assert {
        "name": "etcd · intermediate · teaches Raft consensus",
        "value": "etcd",
    } in shown.choices
    paths = await (await fake.autocomplete("path", "name", "obs", user=ALICE)).answer()
    assert [c["value"] for c in paths.choices or []] == ["observability-stack"]


async def test_undo_autocomplete_offers_what_you_marked(
    fake: FakeDiscord, bot: RoadmapClient
) -> None:
    await (await fake.slash("done", {"name": "redis"}, user=ALICE)).answer()
    shown = await (await fake.autocomplete("undo", "name", "", user=ALICE)).answer()
    assert [c["value"] for c in shown.choices or []] == ["redis"]
    everything = await (await fake.autocomplete("done", "name", "", user=BOB)).answer()
    assert len(everything.choices or []) == 25


def _message_with_button(fake: FakeDiscord, label: str, custom_id: str) -> dict[str, Any]:
    button = {"type": 2, "style": 2, "label": label, "custom_id": custom_id}
    return fake._message(
        fake.guild.channel.id, {"components": [{"type": 1, "components": [button]}]}
    )


@pytest.mark.parametrize("defer_after", [2.0, 0.0])
async def test_a_mistake_is_never_shared(
    fake: FakeDiscord, start_bot: StartBot, defer_after: float
) -> None:
    await start_bot(defer_after=defer_after)
    message = _message_with_button(fake, "Share", "rb:s:project nosuchthing")
    sent = await fake.click(message, "Share", user=ALICE)
    shown = await sent.answer()
    assert shown.ephemeral
    assert shown.title == "I don't know a project called 'nosuchthing'."
    if defer_after == 0:  # the public "thinking…" was removed, not turned into the error
        assert fake.requests_to("DELETE", r"/webhooks/\d+/[^/]+/messages/@original")
    assert all(m.get("flags", 0) & 64 for m in fake.messages.values() if m["type"] == 20)


async def test_a_command_the_bot_does_not_know_gets_an_answer(
    fake: FakeDiscord, bot: RoadmapClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Discord still shows a subcommand removed in a newer version until the next sync.
    (definition,) = fake.commands[str(fake.guild.id)]
    definition["options"].append({"type": 1, "name": "ghost", "description": "gone"})
    with caplog.at_level(logging.INFO):
        shown = await (await fake.slash("ghost", user=ALICE)).answer()
    assert shown.ephemeral
    assert shown.title == STALE
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "answered as a stale button" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)  # no traceback
