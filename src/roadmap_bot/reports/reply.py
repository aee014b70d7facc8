"""What `report NAME` says: a pure function from a project and its report's state to a Reply.

Headings and lead phrases only, each time with the link to the report and its sections:
the bot points readers to the report, it does not reproduce it.
"""

from __future__ import annotations

from datetime import datetime

from roadmap_bot.chat.cards import DESIGN_ANCHOR, TAKEAWAYS_ANCHOR
from roadmap_bot.chat.replies import Action, Fact, Item, Link, Reply, ReplyKind, Section, Style
from roadmap_bot.learning.catalog import Project
from roadmap_bot.reports.outline import DECISIONS, TAKEAWAYS, Outline
from roadmap_bot.reports.service import ReportState


def report_reply(project: Project, state: ReportState) -> Reply:
    """The report's outline: decisions, takeaway lead phrases, release, section links."""
    outline = state.outline
    base = project.report_url
    links = (
        Link(label="Architecture report", url=base),
        Link(label="Repository", url=project.repository),
    )
    actions = (
        Action(label="Open report", url=base, style=Style.PRIMARY),
        Action(label="Reading it", command=f"reading {project.slug}"),
        Action(label="Project card", command=f"project {project.slug}"),
    )
    title = f"{project.name}: architecture report"
    if outline is None:
        return Reply(
            kind=ReplyKind.REPORT,
            title=title,
            text=f"{_why_missing(state)} The report and the sections to read closely are linked below.",
            sections=(
                Section(
                    heading="Read closely",
                    links=(
                        Link(label="Key Design Decisions", url=base + DESIGN_ANCHOR),
                        Link(label="Key Takeaways", url=base + TAKEAWAYS_ANCHOR),
                    ),
                ),
            ),
            links=links,
            actions=actions,
            command=f"report {project.slug}",
        )
    decisions_url = _anchor_url(outline, base, DECISIONS, DESIGN_ANCHOR)
    takeaways_url = _anchor_url(outline, base, TAKEAWAYS, TAKEAWAYS_ANCHOR)
    sections = [
        Section(
            heading="Key Design Decisions",
            text="The decisions to look for as you read:",
            items=tuple(
                Item(title=d.title, prefix=f"{i}.", url=f"{base}#{d.anchor}")
                for i, d in enumerate(outline.decisions, 1)
            ),
            links=(Link(label="Key Design Decisions", url=decisions_url),),
        ),
        Section(
            heading="Key Takeaways",
            text=(
                "What the report draws from them, to discuss:"
                if outline.takeaways
                else "The takeaways have no short lead phrases: read them in the report."
            ),
            items=tuple(Item(title=t, prefix=f"{i}.") for i, t in enumerate(outline.takeaways, 1)),
            links=(Link(label="Key Takeaways", url=takeaways_url),),
        ),
    ]
    if outline.sections:
        sections.append(
            Section(
                heading="Outline",
                links=tuple(
                    Link(label=s.title, url=f"{base}#{s.anchor}") for s in outline.sections
                ),
            )
        )
    facts = []
    if outline.release:
        facts.append(Fact(label="Analyzed release", value=outline.release))
    if outline.generated_on:
        facts.append(Fact(label="Report generated", value=outline.generated_on))
    footer = "Headings only: the reasoning is in the report."
    if state.source_down and state.checked_at is not None:
        footer = (
            f"Outline as of {_day(state.checked_at)}: the report's source is not answering "
            "right now, so it may have changed since."
        )
    return Reply(
        kind=ReplyKind.REPORT,
        title=title,
        text=_about(project, outline),
        facts=tuple(facts),
        sections=tuple(sections),
        links=links,
        actions=actions,
        footer=footer,
        command=f"report {project.slug}",
        shareable=True,
    )


def _about(project: Project, outline: Outline) -> str:
    what = f"The report on {outline.name or project.name}"
    if outline.release:
        what += f" studies release {outline.release}"
    count = len(outline.decisions)
    return (
        f"{what}. It explains {count} key design decision{'s' if count != 1 else ''}: "
        "read those and the takeaways closely."
    )


def _why_missing(state: ReportState) -> str:
    if state.pending:
        return "Its outline is still on its way: ask again in a moment."
    if state.problem and state.problem.startswith("HTTP "):
        return f"I couldn't get its outline: its source answered with an error ({state.problem})."
    if state.problem:
        return "I couldn't read its outline: the report does not have the usual shape."
    if state.source_down:
        return "Its source is not answering right now, so I can't show its outline."
    return "I don't have its outline yet."


def _anchor_url(outline: Outline, base: str, title: str, default: str) -> str:
    section = outline.section(title)
    return f"{base}#{section.anchor}" if section else base + default


def _day(at: datetime) -> str:
    return f"{at.day} {at:%b %Y}"
