"""A weekly slot: a weekday, a local time and an IANA zone, and when it falls.

A schedule is evaluated in its own zone, so 09:00 stays 09:00 local across DST. A local
time that does not exist (inside a spring-forward gap) is due at the first valid instant
after the gap; a local time that happens twice (fall-back) is due once, at the first.
Each occurrence is named by its local date (the "week" key the delivery ledger uses).

Plain values on the standard library alone, so every layer can hold one: the store keeps
subscriptions' schedules as these; ``groups.schedule`` parses what users type into them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The longest IANA name is 32 characters. Longer text is refused before it reaches
# ZoneInfo, which would try it as a file name (OSError past the file system's limit).
MAX_ZONE_CHARS = 64
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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
