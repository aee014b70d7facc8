"""Over-long input is refused before it is looked up, with an answer that says why."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from roadmap_bot.chat.commands import Command, Invalid, Pause, Subscribe
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.groups.study_groups import StudyGroups

Parse = Callable[[str], Command]


@pytest.fixture
def parse(roadmap: Roadmap, groups: StudyGroups) -> Parse:
    return roadmap.language.parse  # the core's words and the study groups'


@pytest.fixture
def refusal(parse: Parse) -> Callable[[str], str]:
    def refused(text: str) -> str:
        command = parse(text)
        assert isinstance(command, Invalid), command
        return command.reply.title

    return refused


def test_a_whole_page_of_text_is_refused_at_once(refusal: Callable[[str], str]) -> None:
    assert refusal("search " + "raft " * 400) == (
        "That command is 2,007 characters long; I read at most 1,000."
    )


@pytest.mark.parametrize(
    "text", ["project " + "r" * 150, "r" * 150, "done " + "x" * 101, "progress " + "@a" * 60]
)
def test_names_over_100_characters_are_refused(text: str, refusal: Callable[[str], str]) -> None:
    name = text.split(" ", 1)[-1]
    assert refusal(text) == (
        f"'{name[:39]}…' is {len(name)} characters long; no project, path, level or person "
        "has a name over 100."
    )


def test_subscription_parts_are_checked_one_by_one(
    parse: Parse, refusal: Callable[[str], str]
) -> None:
    long_target = "subscribe " + "w" * 120
    assert "is 120 characters long" in refusal(long_target)
    zone = "America/" + "x" * 92
    assert refusal(f"subscribe beginner tz {zone}") == (
        f"'{zone[:39]}…' is 100 characters long: not an IANA time zone (those are at most 64, "
        "e.g. Europe/Berlin, America/New_York)."
    )
    assert refusal("subscribe beginner at " + "9" * 50) == (
        f"'{'9' * 39}…' is not a time of day (use HH:MM, e.g. 09:00 or 17:30)."
    )
    # the longest real zone still works
    command = parse("subscribe beginner tz America/Argentina/ComodRivadavia")
    assert isinstance(command, Subscribe)
    assert command.zone == "America/Argentina/ComodRivadavia"


def test_a_pause_date_longer_than_a_date_is_not_a_date(
    parse: Parse, refusal: Callable[[str], str]
) -> None:
    assert refusal("pause 2027-01-04" + "0" * 50) == (
        "'2027-01-0400000000000000000000000000000…' is not a date."
    )
    assert parse("pause 2027-01-04") != parse("pause 2027-01-05")
    assert isinstance(parse("pause 2027-01-04"), Pause)


async def test_the_core_answers_them_like_any_bad_input(
    roadmap: Roadmap, groups: StudyGroups, alice: Asker
) -> None:
    reply = await roadmap.ask("subscribe beginner tz " + "Z" * 300, alice)
    assert not reply.ok
    assert reply.title.endswith(
        "is 300 characters long: not an IANA time zone (those are at most 64, e.g. Europe/Berlin, America/New_York)."
    )
