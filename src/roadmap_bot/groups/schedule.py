"""Schedules as users type them: weekday, time of day and zone, with clear refusals.

The schedule value itself and its arithmetic live in ``roadmap_bot.weekly`` (below the
store, which keeps one per subscription); they are re-exported here for the wing.
"""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from roadmap_bot.learning.suggest import close_matches
from roadmap_bot.weekly import MAX_ZONE_CHARS, WEEKDAYS, Schedule, local_instant

__all__ = [
    "MAX_ZONE_CHARS",
    "WEEKDAYS",
    "Schedule",
    "ScheduleError",
    "local_instant",
    "parse_time",
    "parse_weekday",
    "parse_zone",
]

_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")
MAX_WORD_CHARS = 20  # a weekday or a time of day
SHOWN_CHARS = 40  # how much of an over-long value an answer repeats


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """What a user typed, cut short for an answer that repeats it."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ScheduleError(ValueError):
    """A weekday, time or zone a user typed that we cannot use; the message says why."""

    def __init__(self, message: str, guesses: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.guesses = guesses  # values the user may have meant


# -- parsing what users type ------------------------------------------------------------------


def parse_weekday(text: str) -> int:
    if len(text) > MAX_WORD_CHARS:
        raise ScheduleError(f"'{shown(text)}' is not a weekday (monday ... sunday).")
    word = text.casefold().rstrip(".")
    for index, name in enumerate(WEEKDAYS):
        if len(word) >= 2 and name.startswith(word):
            return index
    raise ScheduleError(f"'{text}' is not a weekday (monday ... sunday).")


def parse_time(text: str) -> time:
    if len(text) > MAX_WORD_CHARS:
        raise ScheduleError(
            f"'{shown(text)}' is not a time of day (use HH:MM, e.g. 09:00 or 17:30)."
        )
    match = _TIME.match(text.strip().casefold())
    if not match:
        raise ScheduleError(f"'{text}' is not a time of day (use HH:MM, e.g. 09:00 or 17:30).")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = match.group(3)
    if suffix:
        if not 1 <= hour <= 12:
            raise ScheduleError(f"'{text}' is not a time of day (1-12 before am/pm).")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ScheduleError(f"'{text}' is not a time of day (hours 0-23, minutes 0-59).")
    return time(hour, minute)


def parse_zone(text: str) -> str:
    """An IANA zone name, matched without regard to case ('europe/berlin' works)."""
    if len(text) > MAX_ZONE_CHARS:
        raise ScheduleError(
            f"'{shown(text)}' is {len(text)} characters long: not an IANA time zone "
            f"(those are at most {MAX_ZONE_CHARS}, e.g. Europe/Berlin, America/New_York)."
        )
    try:
        ZoneInfo(text)
        return text
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    zones = _zones_by_folded_name()
    found = zones.get(text.casefold())
    if found:
        return found
    guesses = close_matches(text, list(zones.values()), limit=2, cutoff=80)
    raise ScheduleError(
        f"'{text}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York).",
        tuple(guesses),
    )


@lru_cache(maxsize=1)
def _zones_by_folded_name() -> dict[str, str]:
    return {zone.casefold(): zone for zone in available_timezones()}
