"""The reports feature on the core: the `report NAME` command and the cards' headings."""

from __future__ import annotations

import logging

from roadmap_bot.chat import cards
from roadmap_bot.chat.commands import Command, ShowReport, Usage, needs
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import Reply
from roadmap_bot.reports.reply import report_reply
from roadmap_bot.reports.service import Reports, ReportState

log = logging.getLogger(__name__)


def _parse_report(head: str, words: list[str]) -> Command:
    rest = " ".join(words)
    return ShowReport(rest) if rest else needs("report", "a project name", "report kafka")


REPORT = Usage(
    "report",
    "report NAME",
    "a report's outline: its design decisions, takeaways and section links",
    "report kafka",
    _parse_report,
    also=("outline",),
)


def install(roadmap: Roadmap, reports: Reports) -> None:
    """Answer `report NAME` and give project cards their "Design decisions to look for"."""

    async def show_report(command: ShowReport, who: Asker) -> Reply:
        project = roadmap.catalog.find_project(command.name)
        if project is None:
            return cards.unknown_project(roadmap.catalog, "report", command.name)
        try:
            state = await reports.state(project.slug, wait=reports.report_wait)
        except Exception:  # the links alone still answer the question
            log.exception("reading the outline of %s failed", project.slug)
            state = ReportState(None)
        return report_reply(project, state)

    roadmap.register(ShowReport, show_report, REPORT)
    roadmap.outlines = reports.decision_headings
