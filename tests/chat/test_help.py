"""Help is complete: every word the bot understands, on any surface, has its help."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from discord import app_commands

from roadmap_bot.adapters.discord.commands import RoadmapGroup
from roadmap_bot.app import App, open_app
from roadmap_bot.chat.commands import Help, Invalid, ShowLevel, ShowProject
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.config import load_settings
from roadmap_bot.learning.catalog import Level

LEAD = Asker(id="console:lead", name="lead", channel="console:study")

# The commands the issue names; the app must list every one of them in 'help'.
NAMED = (
    "subscribe", "unsubscribe", "schedule", "skip", "pause", "resume", "digest",
    "report", "reading", "pass", "next", "search", "done", "undo",
)  # fmt: skip


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    # The composition root, as 'serve' and the console build it: every feature registered.
    async with open_app(load_settings(ROADMAP_DB=str(tmp_path / "app.db"))) as app:
        yield app


def discord_subcommands() -> list[str]:
    return [c.name for c in vars(RoadmapGroup).values() if isinstance(c, app_commands.Command)]


async def test_help_lists_every_registered_command(app: App) -> None:
    roadmap = app.roadmap
    overview = await roadmap.ask("help", LEAD)
    listed = [item.title for item in overview.items]
    assert len(listed) == len(roadmap.language.usages)
    for usage in roadmap.language.usages:
        assert usage.syntax in listed
    for word in NAMED:
        assert any(title.split()[0] == word for title in listed), word


async def test_every_command_word_has_its_help(app: App) -> None:
    roadmap = app.roadmap
    for word in roadmap.language.keywords:
        reply = await roadmap.ask(f"help {word}", LEAD)
        assert reply.ok, word
        usage = roadmap.language.usage_of(word)
        assert usage is not None and reply.title == f"/roadmap {usage.syntax}"
        assert f"/roadmap {usage.example}" in render_text(reply)


async def test_every_example_parses_to_a_command_the_app_answers(app: App) -> None:
    roadmap = app.roadmap
    answered = set()
    for usage in roadmap.language.usages:
        command = roadmap.parse(usage.example)
        assert not isinstance(command, Invalid), usage.example
        assert not (isinstance(command, ShowProject) and command.bare), usage.example
        assert roadmap.understands(type(command)), usage.example
        answered.add(type(command))
    # Every command with a handler is reachable by some word (so it is in 'help').
    for command in roadmap._handlers:
        if command is not Invalid:
            reached = command in answered or any(
                isinstance(roadmap.parse(f"{w} redis"), command) for w in roadmap.language.keywords
            )
            assert reached, f"{command.__name__} has a handler but no command word"


async def test_every_discord_subcommand_works_as_typed_text_with_help(app: App) -> None:
    roadmap = app.roadmap
    names = discord_subcommands()
    assert "level" in names and "subscribe" in names
    for name in names:
        assert roadmap.language.usage_of(name) is not None, f"'{name}' lacks a text word"
        assert (await roadmap.ask(f"help {name}", LEAD)).ok, name


def test_a_word_cannot_be_claimed_by_two_commands(roadmap: Roadmap) -> None:
    usage = roadmap.language.usage_of("search")
    assert usage is not None
    roadmap.language.add(usage)  # the same command wired again replaces itself
    other = replace(usage, word="lookup", also=("find",))
    with pytest.raises(ValueError, match="find"):
        roadmap.language.add(other)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("level beginner", ShowLevel(Level.BEGINNER)),
        ("Level ADVANCED page 2", ShowLevel(Level.ADVANCED, 2)),
        ("help level", Help("level")),
    ],
)
def test_discords_level_word_as_text(roadmap: Roadmap, text: str, command: object) -> None:
    assert roadmap.parse(text) == command


async def test_level_without_a_level_explains(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("level", alice)
    assert not reply.ok and "level beginner" in reply.suggestions
    wrong = await roadmap.ask("level expert", alice)
    assert not wrong.ok and wrong.title == "'expert' is not a level."


async def test_help_for_study_group_commands(app: App) -> None:
    reply = await app.roadmap.ask("help subscribe", LEAD)
    assert reply.ok
    assert reply.title.startswith("/roadmap subscribe PATH|LEVEL")
