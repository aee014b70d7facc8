"""What a weekly post says about the group itself (filled in by :mod:`group_view`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GroupNews:
    """The week's activity, the top streaks (names, never mentions) and the page's link."""

    activity: str = ""  # "3 reports finished: ann read Loki, ben read Grafana and Loki."
    streaks: str = ""  # "Streaks: ann 4 weeks, ben 2 weeks."
    page_url: str | None = None
