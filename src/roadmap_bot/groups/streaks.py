"""Weekly reading streaks: pure rules over the delivery ledger and members' first reads.

A week is one posted digest. It counts for a member who marks that week's project done
or reading before the group's next post; the deadline is the next post's own instant
from the ledger, which the schedule computed in the group's time zone, so a late Sunday
read stays in its week across a DST change (never "due + 7 days" in UTC). One missed
week is forgiven per streak (the grace week); a second miss ends it. Weeks without a
post (paused, missed while the bot was down, refused by the platform) neither count nor
break a streak. The newest week is open until the next post: a read counts at once,
not reading yet is no miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from roadmap_bot.store.groups import LedgerWeek

# Ledger states where no post was due from the group's point of view.
_NO_POST = frozenset({"paused"})


@dataclass(frozen=True, slots=True)
class PostedWeek:
    week: date  # local date of the post
    project: str
    due_at: datetime
    deadline: datetime | None  # the next post's instant; None: still open


@dataclass(frozen=True, slots=True)
class Streak:
    weeks: int = 0  # weeks counted in the current streak
    grace_used: bool = False  # its one forgiven week is spent
    best: int = 0

    def describe(self) -> str:
        if self.weeks == 0:
            return "no streak"
        unit = "week" if self.weeks == 1 else "weeks"
        return f"{self.weeks} {unit}" + (" (grace week used)" if self.grace_used else "")


def posted_weeks(ledger: Sequence[LedgerWeek]) -> list[PostedWeek]:
    """The weeks a project was posted, oldest first, each with its deadline."""
    rows = sorted((w for w in ledger if w.kind == "digest"), key=lambda w: w.due_at)
    out: list[PostedWeek] = []
    for index, row in enumerate(rows):
        if row.state != "sent" or row.project is None:
            continue
        # The next week a post was due: a paused week moves the deadline on with it.
        later = next(
            (r for r in rows[index + 1 :] if r.state not in _NO_POST and r.state != "claimed"),
            None,
        )
        out.append(PostedWeek(row.week, row.project, row.due_at, later.due_at if later else None))
    return out


def streak(weeks: Sequence[PostedWeek], first_reads: Mapping[str, datetime]) -> Streak:
    """One member's streak from the group's posted weeks and when they first read each."""
    current = best = 0
    grace_used = False
    for week in weeks:
        read_at = first_reads.get(week.project)
        if read_at is not None and (week.deadline is None or read_at < week.deadline):
            current += 1
            best = max(best, current)
        elif week.deadline is None:
            continue  # still open: not read yet is no miss
        elif current > 0 and not grace_used:
            grace_used = True  # the one forgiven week: the streak holds, nothing is added
        else:
            current, grace_used = 0, False
    return Streak(current, grace_used, best)


def streaks(
    weeks: Sequence[PostedWeek], reads: Mapping[str, Mapping[str, datetime]]
) -> dict[str, Streak]:
    """Every member's streak: member -> Streak."""
    return {member: streak(weeks, first) for member, first in reads.items()}


def top_streaks(
    found: Mapping[str, Streak], names: Mapping[str, str], limit: int = 3
) -> list[tuple[str, Streak]]:
    """(name, streak) of the longest running streaks, longest first, ties by name."""
    ranked = sorted(
        ((names.get(m, m.rsplit(":", 1)[-1]), s) for m, s in found.items() if s.weeks > 0),
        key=lambda pair: (-pair[1].weeks, pair[0].casefold()),
    )
    return ranked[:limit]
