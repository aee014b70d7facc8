"""When weekly digests are due: a weekday, a local time and an IANA zone.

A schedule is evaluated in its own zone, so 09:00 stays 09:00 local across DST. A local
time that does not exist (inside a spring-forward gap) is due at the first valid instant
after the gap; a local time that happens twice (fall-back) is due once, at the first.
Each occurrence is named by its local date (the "week" key the delivery ledger uses).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from roadmap_bot.learning.suggest import close_matches

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$")
# The longest IANA name is 32 characters. Longer text is refused before it reaches
# ZoneInfo, which would try it as a file name (OSError past the file system's limit).
MAX_ZONE_CHARS = 64
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


@dataclass(frozen=True)
class Schedule:
    weekday: int  # 0 = Monday
    at: time
    zone: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def describe(self) -> str:
        return f"every {WEEKDAYS[self.weekday].capitalize()} at {self.at:%H:%M} ({self.zone})"

    def occurrence(self, day: date) -> datetime:
        """The UTC instant this schedule fires on a local ``day`` (which must be its weekday)."""
        return local_instant(day, self.at, self.tz)

    def week_of(self, day: date) -> date:
        """The local date of the occurrence in the week (Monday-Sunday) containing ``day``."""
        monday = day - timedelta(days=day.weekday())
        return monday + timedelta(days=self.weekday)

    def occurrences_after(self, after: datetime) -> Iterator[tuple[date, datetime]]:
        """(local date, UTC instant) of every occurrence strictly after ``after``."""
        local_day = after.astimezone(self.tz).date()
        day = self.week_of(local_day) - timedelta(days=7)  # start early: DST edges
        while True:
            instant = self.occurrence(day)
            if instant > after:
                yield day, instant
            day += timedelta(days=7)

    def next_after(self, after: datetime) -> tuple[date, datetime]:
        return next(self.occurrences_after(after))

    def latest_at_or_before(self, now: datetime) -> tuple[date, datetime]:
        """The most recent occurrence at or before ``now``."""
        day = self.week_of(now.astimezone(self.tz).date()) + timedelta(days=7)
        while True:
            instant = self.occurrence(day)
            if instant <= now:
                return day, instant
            day -= timedelta(days=7)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant, resolving DST gaps and repeated hours."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return first.astimezone(UTC)  # exists (in a repeated hour fold=0 is the first)
    # Inside a gap: the wall clock jumps over ``naive``. The first valid instant after
    # it is the transition itself, which lies between the two readings of the missing
    # time; zone transitions fall on whole seconds, so search those.
    readings = sorted(int(naive.replace(tzinfo=tz, fold=fold).timestamp()) for fold in (0, 1))
    low, high = readings[0] - 1, readings[1] + 1
    while high - low > 1:
        middle = (low + high) // 2
        wall = datetime.fromtimestamp(middle, tz).replace(tzinfo=None)
        if wall < naive:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


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
