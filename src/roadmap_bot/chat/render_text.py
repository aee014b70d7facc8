"""Plain-text rendering of a Reply: for the console, the CLI and chat fallbacks.

Lists page like the chat platforms: a list whose command takes ``page N`` shows ten
items at a time and says how to see the next ten; other lists are shown whole.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from roadmap_bot.chat.commands import parse
from roadmap_bot.chat.replies import CELL_SYMBOLS, Cell, Item, Mark, Meter, Reply, Table

TEXT_PAGE_SIZE = 10
BAR_WIDTH = 10

MARK_SYMBOLS: dict[Mark, str] = {
    Mark.NONE: " ",
    Mark.DONE: "✓",
    Mark.READING: "…",
    Mark.SKIPPED: "-",
    Mark.CURRENT: "▸",
}


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """A text progress bar: '███░░░░░░░ 3/10'."""
    filled = round(width * done / total) if total else 0
    return f"{'█' * filled}{'░' * (width - filled)} {done}/{total}"


def page_bounds(count: int, page: int, size: int) -> tuple[int, int, int]:
    """(start, end, pages) of a 1-based page, clamped to the last page."""
    pages = max(1, -(-count // size))
    page = min(max(page, 1), pages)
    start = (page - 1) * size
    return start, min(start + size, count), pages


def pages_by_grammar(reply: Reply, parse_command: Callable[[str], Any] = parse) -> bool:
    """Whether the reply's command takes 'page N' (then its list is paged, not trimmed)."""
    if not reply.command:
        return False
    return _takes_page(parse_command, reply.page_command(2))


@lru_cache(maxsize=4096)
def _takes_page(parse_command: Callable[[str], Any], second_page: str) -> bool:
    # Every list reply asks this; the answer depends only on the words (a grammar is
    # complete once the bot is composed), so a rendered reply does not parse twice.
    return getattr(parse_command(second_page), "page", None) == 2


def page_note(reply: Reply, page: int, pages: int) -> str:
    """'page 2 of 5 - ...': where this page is, and how to see the next or the last one."""
    asked = reply.page or 1
    if asked > pages:
        return f"page {pages} of {pages}, the last: there is no page {asked}"
    more = f" - '{reply.page_command(page + 1)}' for more" if page < pages else ""
    return f"page {page} of {pages}{more}"


def render_text(reply: Reply, parse_command: Callable[[str], Any] = parse) -> str:
    out: list[str] = [reply.title]
    if reply.text:
        out.append(reply.text)
    if reply.facts:
        out.append("")
        out.extend(f"  {f.label}: {f.value}" for f in reply.facts)
    if reply.items:
        out.append("")
        if reply.items_heading:
            out.append(reply.items_heading)
        items = list(reply.items)
        if reply.page is not None or (
            len(items) > TEXT_PAGE_SIZE and pages_by_grammar(reply, parse_command)
        ):
            start, end, pages = page_bounds(len(items), reply.page or 1, TEXT_PAGE_SIZE)
            out.extend(_item(i) for i in items[start:end])
            out.append(f"  ({page_note(reply, start // TEXT_PAGE_SIZE + 1, pages)})")
        else:
            out.extend(_item(i) for i in items)
    if reply.table is not None:
        out.append("")
        out.extend(table_lines(reply.table))
    for section in reply.sections:
        out.append("")
        out.append(section.heading)
        if section.text:
            out.append(f"  {section.text}")
        out.extend(_item(i) for i in section.items)
        out.extend(_meter(m) for m in section.meters)
        out.extend(f"  {link.label}: {link.url}" for link in section.links)
    if reply.links:
        out.append("")
        out.extend(f"  {link.label}: {link.url}" for link in reply.links)
    commands = [a.command for a in reply.actions if a.command]
    if reply.suggestions:
        out.append("")
        out.append("Did you mean: " + " | ".join(reply.suggestions))
    if reply.footer:
        out.append("")
        out.append(reply.footer)
    if commands:
        out.append("Try: " + " | ".join(commands))
    return "\n".join(out)


@lru_cache(maxsize=8192)
def _item(item: Item) -> str:
    symbol = MARK_SYMBOLS[item.mark]
    prefix = f"{item.prefix} " if item.prefix else ""
    line = f"  {symbol} {prefix}{item.title}"
    if item.slug and item.slug.casefold() != item.title.casefold():
        line += f" ({item.slug})"
    if item.detail:
        line += f" - {item.detail}"
    return line


def _meter(meter: Meter) -> str:
    return f"  {meter.label:<24} {bar(meter.done, meter.total)}"


NAME_WIDTH = 16


def table_lines(table: Table, name_width: int = NAME_WIDTH) -> list[str]:
    """The member-by-step grid as aligned lines (monospace): two header lines carry the
    step numbers' tens and units, a row per member, the legend last. Shared by every
    chat renderer, which wraps it in its platform's code block."""
    numbers = [str(n) for n in range(1, table.columns + 1)]
    tens = "".join(n[-2] if len(n) > 1 else " " for n in numbers)
    units = "".join(n[-1] for n in numbers)
    pad = " " * name_width
    lines = []
    if table.columns >= 10:
        lines.append(f"{pad} {tens}".rstrip())
    lines.append(f"{'step':<{name_width}} {units}")
    if table.highlight is not None:
        lines.append(f"{pad} {' ' * (table.highlight - 1)}^ this week")
    for row in table.rows:
        name = _fit(row.label, name_width)
        cells = "".join(CELL_SYMBOLS[c] for c in row.cells)
        lines.append(f"{name:<{name_width}} {cells}  {row.note}".rstrip())
    if table.legend:
        lines.append(table.legend)
    return lines


def table_summary(table: Table) -> list[str]:
    """The grid in words, a line per member (notifications, screen readers):
    'ann: done 1, 2, 5; reading 3 (ahead by 1 · streak 2 weeks)'."""
    lines = []
    for row in table.rows:
        parts = []
        for cell in (Cell.DONE, Cell.READING, Cell.PASSED):
            steps = [str(i) for i, c in enumerate(row.cells, 1) if c is cell]
            if steps:
                parts.append(f"{cell.value} {', '.join(steps)}")
        what = "; ".join(parts) or "nothing marked yet"
        lines.append(f"{_fit(row.label, 40)}: {what}" + (f" ({row.note})" if row.note else ""))
    return lines


def _fit(text: str, width: int) -> str:
    """One line, at most ``width`` characters: control characters and newlines out."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
