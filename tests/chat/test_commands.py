"""Parsing the /roadmap language: every command, and bad input as helpful replies."""

from __future__ import annotations

import pytest

from roadmap_bot.chat.commands import (
    Done,
    Help,
    Invalid,
    ListPaths,
    Next,
    Progress,
    Random,
    Search,
    ShowLevel,
    ShowPath,
    ShowProject,
    Undo,
    keyword_suggestions,
    parse,
)
from roadmap_bot.learning.catalog import Level


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("", Help()),
        ("   ", Help()),
        ("help", Help()),
        ("HELP next", Help("next")),
        ("beginner", ShowLevel(Level.BEGINNER)),
        ("Intermediate page 2", ShowLevel(Level.INTERMEDIATE, 2)),
        ("advanced PAGE 3", ShowLevel(Level.ADVANCED, 3)),
        ("project redis", ShowProject("redis")),
        ("Project Next.js", ShowProject("Next.js")),
        ("redis", ShowProject("redis", bare=True)),
        ("paths", ListPaths()),
        ("path", ListPaths()),
        ("path observability stack", ShowPath("observability stack")),
        ("search event loop", Search("event loop")),
        ("search raft page 2", Search("raft", 2)),
        ("find raft", Search("raft")),
        ("next", Next()),
        ("NEXT", Next()),
        ("done fzf", Done("fzf")),
        ("undo fzf", Undo("fzf")),
        ("progress", Progress()),
        ("progress @bob", Progress("@bob")),
        ("random", Random()),
        ("random ADVANCED", Random(Level.ADVANCED)),
    ],
)
def test_parse(text: str, command: object) -> None:
    assert parse(text) == command


@pytest.mark.parametrize(
    ("text", "title", "suggestion"),
    [
        ("project", "'project' needs a project name.", "project redis"),
        ("done", "'done' needs a project name.", "done fzf"),
        ("undo", "'undo' needs a project name.", "undo fzf"),
        ("search", "'search' needs something to look for.", "search raft"),
        ("random expert", "'expert' is not a level.", "random beginner"),
        ("random advnced", "'advnced' is not a level.", "random advanced"),
        ("beginner please", "I did not understand 'please'.", "beginner page 2"),
        ("beginner page 0", "I did not understand 'page 0'.", "beginner page 2"),
        ("next week", "'next' takes no words after it.", "next"),
    ],
)
def test_bad_input_is_a_helpful_reply(text: str, title: str, suggestion: str) -> None:
    command = parse(text)
    assert isinstance(command, Invalid)
    assert command.reply.ok is False
    assert command.reply.title == title
    assert suggestion in command.reply.suggestions


def test_misspelt_keywords_get_suggestions() -> None:
    assert keyword_suggestions("serach raft") == ["search raft"]
    assert keyword_suggestions("progres") == ["progress"]
    assert keyword_suggestions("zzzz") == []
