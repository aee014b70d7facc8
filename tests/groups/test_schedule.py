"""Schedule arithmetic in the schedule's own zone: DST gaps, repeated hours, weekdays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from itertools import takewhile
from zoneinfo import ZoneInfo

import pytest

from roadmap_bot.groups.schedule import (
    Schedule,
    ScheduleError,
    local_instant,
    parse_time,
    parse_weekday,
    parse_zone,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_nine_stays_nine_across_spring_forward_in_new_york() -> None:
    weekly = Schedule(6, time(9, 0), "America/New_York")  # Sundays
    before = weekly.occurrence(date(2026, 3, 1))
    after = weekly.occurrence(date(2026, 3, 8))  # DST starts that night
    assert before == utc(2026, 3, 1, 14, 0)  # EST, UTC-5
    assert after == utc(2026, 3, 8, 13, 0)  # EDT, UTC-4
    assert after.astimezone(NY).hour == 9


def test_nine_stays_nine_across_fall_back_in_berlin() -> None:
    weekly = Schedule(6, time(9, 0), "Europe/Berlin")
    assert weekly.occurrence(date(2026, 10, 18)) == utc(2026, 10, 18, 7, 0)  # CEST
    assert weekly.occurrence(date(2026, 10, 25)) == utc(2026, 10, 25, 8, 0)  # CET


def test_a_time_in_the_spring_gap_posts_at_the_first_valid_instant() -> None:
    # 02:30 does not exist on 8 March 2026 in New York: clocks jump 02:00 -> 03:00.
    assert local_instant(date(2026, 3, 8), time(2, 30), NY) == utc(2026, 3, 8, 7, 0)
    assert local_instant(date(2026, 3, 8), time(2, 30), NY).astimezone(NY).hour == 3
    # Berlin: 02:30 does not exist on 29 March 2026.
    assert local_instant(date(2026, 3, 29), time(2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)


def test_a_time_in_the_repeated_hour_posts_once_at_the_first() -> None:
    # 01:30 happens twice on 1 November 2026 in New York (EDT, then EST).
    weekly = Schedule(6, time(1, 30), "America/New_York")
    first = weekly.occurrence(date(2026, 11, 1))
    assert first == utc(2026, 11, 1, 5, 30)
    upcoming = weekly.occurrences_after(utc(2026, 10, 31))
    instants = [i for _, i in takewhile(lambda o: o[1] < utc(2026, 11, 8), upcoming)]
    assert instants == [first]
    assert local_instant(date(2026, 10, 25), time(2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_occurrences_walk_weeks_and_latest_before() -> None:
    weekly = Schedule(0, time(9, 0), "Europe/Berlin")  # Mondays
    week, instant = weekly.next_after(utc(2026, 11, 23, 8, 0))  # exactly Monday 09:00 CET
    assert (week, instant) == (date(2026, 11, 30), utc(2026, 11, 30, 8, 0))
    assert weekly.latest_at_or_before(utc(2026, 11, 23, 8, 0)) == (
        date(2026, 11, 23),
        utc(2026, 11, 23, 8, 0),
    )
    assert weekly.latest_at_or_before(utc(2026, 11, 23, 7, 59))[0] == date(2026, 11, 16)


def test_zone_edge_of_the_week() -> None:
    # Monday 00:30 in Tokyo is still Sunday in UTC: the local date names the week.
    weekly = Schedule(0, time(0, 30), "Asia/Tokyo")
    week, instant = weekly.next_after(utc(2026, 11, 28))
    assert week == date(2026, 11, 30) and instant == utc(2026, 11, 29, 15, 30)


@pytest.mark.parametrize(
    ("text", "index"), [("monday", 0), ("Mon", 0), ("tu", 1), ("FRIDAY", 4), ("sun", 6)]
)
def test_parse_weekday(text: str, index: int) -> None:
    assert parse_weekday(text) == index


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("9", time(9)),
        ("09:00", time(9)),
        ("17:30", time(17, 30)),
        ("3pm", time(15)),
        ("12am", time(0)),
    ],
)
def test_parse_time(text: str, value: time) -> None:
    assert parse_time(text) == value


@pytest.mark.parametrize("text", ["25:00", "9:75", "noon", "13pm"])
def test_bad_times(text: str) -> None:
    with pytest.raises(ScheduleError, match="is not a time of day"):
        parse_time(text)


def test_parse_zone_is_case_insensitive_and_suggests() -> None:
    assert parse_zone("america/new_york") == "America/New_York"
    assert parse_zone("UTC") == "UTC"
    with pytest.raises(ScheduleError) as caught:
        parse_zone("Europe/Berln")
    assert "Europe/Berlin" in caught.value.guesses
    with pytest.raises(ScheduleError):
        parse_weekday("x")
