"""Plain-text rendering of a Reply: for the console, the CLI and chat fallbacks.

The whole list is shown at once; only an explicit ``page N`` pages it.
"""

from __future__ import annotations

from functools import lru_cache

from roadmap_bot.chat.replies import Item, Mark, Meter, Reply

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


def render_text(reply: Reply) -> str:
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
        if reply.page is not None:
            start, end, pages = page_bounds(len(items), reply.page, TEXT_PAGE_SIZE)
            out.extend(_item(i) for i in items[start:end])
            shown = min(reply.page, pages)
            more = f" - '{reply.page_command(shown + 1)}' for more" if shown < pages else ""
            out.append(f"  (page {shown} of {pages}{more})")
        else:
            out.extend(_item(i) for i in items)
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
