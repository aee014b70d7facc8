"""A report's outline: what to read and what to talk about, parsed from its Markdown.

Only headings and lead phrases are kept, never the prose under them: the bot points
readers to the report, it does not reproduce it. :func:`parse_report` is pure.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from roadmap_bot.reports.markdown import (
    Heading,
    headings,
    lines_of,
    outside_fences,
    plain,
    table_cells,
)

# Bump when parsing changes: cached outlines from an older parser are fetched again in full.
PARSER_VERSION = 2  # 2: the release as written and the generated date

DECISIONS = "key design decisions"
TAKEAWAYS = "key takeaways"
MAX_ENTRIES = 30  # decisions or takeaways kept; the template has 5 to 10
MAX_TEXT = 160  # characters of one heading or lead phrase
MAX_LEAD_WORDS = 16  # a "lead phrase" longer than this is a sentence: not shown

_NUMBERED = re.compile(r"^(\d{1,3})[.)]\s+(.*)$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:\d{1,3}[.)]|[-*+])[ \t]+(.*)$")
_LEAD_END = re.compile(r":(?=\s|$)")
_HTML_START = re.compile(r"^\s*<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Anchor(_Model):
    """A heading of the report and its anchor on GitHub (without the '#')."""

    title: str
    anchor: str


class Outline(_Model):
    """The parts of a report a study group plans around."""

    name: str  # the report's display name, from its first line
    # The 'Analyzed Release' cell as the report writes it, markup removed: 'v7.4.2
    # (2025-01-06)', '3.x series (latest stable)', '5.0.6 (2026)'. Shown whole, never
    # taken apart: the words in its parentheses are not always a date.
    release: str | None = None
    generated_on: str | None = None  # the 'Generated on' cell: when the report was written
    sections: tuple[Anchor, ...] = ()  # the level-2 sections, in order
    decisions: tuple[Anchor, ...] = ()  # Key Design Decisions headings, numbers removed
    takeaways: tuple[str, ...] = ()  # the lead phrase of each Key Takeaway

    @property
    def decision_titles(self) -> tuple[str, ...]:
        return tuple(d.title for d in self.decisions)

    def section(self, title: str) -> Anchor | None:
        folded = title.casefold()
        return next((s for s in self.sections if s.title.casefold() == folded), None)


class MalformedReport(Exception):
    """The text is not a report in the template's shape; the message says why."""


def looks_like_html(text: str) -> bool:
    return bool(_HTML_START.match(text[:512]))


def parse_report(text: str) -> Outline:
    """Parse a report's Markdown into its outline; raise MalformedReport when it can't."""
    text = text.removeprefix("\ufeff")
    if looks_like_html(text):
        raise MalformedReport("an HTML page, not a Markdown report")
    lines = lines_of(text)
    found = headings(lines)
    if not found or found[0].level != 1 or not found[0].text:
        raise MalformedReport("it does not start with a '# Name' title")
    decisions_at = _section(found, DECISIONS)
    if decisions_at is None:
        raise MalformedReport("no 'Key Design Decisions' section")
    decisions = _decisions(found, decisions_at)
    if not decisions:
        raise MalformedReport("'Key Design Decisions' has no numbered headings")
    takeaways_at = _section(found, TAKEAWAYS)
    if takeaways_at is None:
        raise MalformedReport("no 'Key Takeaways' section")
    metadata = _metadata(lines, found)
    return Outline(
        name=_short(found[0].text),
        release=metadata.get("analyzed release"),
        generated_on=metadata.get("generated on"),
        sections=tuple(
            Anchor(title=_short(h.text), anchor=h.anchor) for h in found if h.level == 2
        ),
        decisions=decisions,
        takeaways=_takeaways(lines, found, takeaways_at),
    )


def _section(found: list[Heading], title: str) -> int | None:
    """Index in ``found`` of the level-2 heading called ``title`` (any case)."""
    return next(
        (i for i, h in enumerate(found) if h.level == 2 and h.text.casefold() == title), None
    )


def _end_of_section(found: list[Heading], start: int) -> int:
    """Index of the heading that closes the section opened at ``start``."""
    return next((i for i in range(start + 1, len(found)) if found[i].level <= 2), len(found))


def _decisions(found: list[Heading], start: int) -> tuple[Anchor, ...]:
    inside = [h for h in found[start + 1 : _end_of_section(found, start)] if h.level == 3]
    numbered = [(h, m) for h in inside if (m := _NUMBERED.match(h.text))]
    if numbered:  # the template numbers them; unnumbered level-3 headings are asides
        chosen = [Anchor(title=_short(m.group(2)), anchor=h.anchor) for h, m in numbered]
    else:
        chosen = [Anchor(title=_short(h.text), anchor=h.anchor) for h in inside]
    return tuple(a for a in chosen if a.title)[:MAX_ENTRIES]


def _takeaways(lines: list[str], found: list[Heading], start: int) -> tuple[str, ...]:
    end = _end_of_section(found, start)
    first = found[start].line + 1
    last = found[end].line if end < len(found) else len(lines)
    phrases = []
    for number, line in outside_fences(lines):
        if first <= number < last and (item := _LIST_ITEM.match(line)):
            phrase = lead_phrase(item.group(1))
            if phrase:
                phrases.append(phrase)
    return tuple(phrases[:MAX_ENTRIES])


def lead_phrase(item: str) -> str | None:
    """'**Log First**: prose...' -> 'Log First'; None when the item has no short lead."""
    text = plain(item)
    end = _LEAD_END.search(text)
    if end is None:
        return None
    phrase = text[: end.start()].strip()
    if not phrase or len(phrase.split()) > MAX_LEAD_WORDS:
        return None
    return _short(phrase)


def _metadata(lines: list[str], found: list[Heading]) -> dict[str, str]:
    """The metadata table above the first section: row name (folded) -> plain cell text."""
    before = found[1].line if len(found) > 1 else len(lines)
    rows: dict[str, str] = {}
    for line in lines[:before]:
        cells = table_cells(line)
        if not cells or len(cells) < 2:
            continue
        value = plain(cells[1])
        if value:
            rows.setdefault(plain(cells[0]).casefold(), _short(value))
    return rows


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1].rstrip() + "…"
