"""The progress bar of `roadmap-bot reports refresh`: redrawn in place on a terminal only."""

from __future__ import annotations

from typing import TextIO

from roadmap_bot.chat.render_text import bar
from roadmap_bot.reports.service import Refreshed, RefreshSummary

WIDTH = 24


def progress_line(summary: RefreshSummary, total: int) -> str:
    """'████████░░░░ 50/100  fetched 48, unchanged 1, failed 1'."""
    done = summary.fetched + summary.unchanged + summary.failed
    return f"{bar(done, total, WIDTH)}  {summary.line()}"


class ProgressBar:
    """Called after each report; silent when the stream is not a terminal (cron, pipes)."""

    def __init__(self, total: int, stream: TextIO, *, live: bool | None = None) -> None:
        self.total = total
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.drawn = False

    def __call__(self, result: Refreshed, summary: RefreshSummary) -> None:
        if self.live:
            self.stream.write("\r" + progress_line(summary, self.total))
            self.stream.flush()
            self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
