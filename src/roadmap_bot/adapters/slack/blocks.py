"""Reply -> Block Kit: the message Slack shows, paged and trimmed to Slack's limits.

Pure functions over plain dicts (no Slack library), so the CLI can preview a message
cheaply and the digest poster can reuse them. Every text from a Reply is escaped
(``escape.py``); every limit Slack enforces is enforced here first, so Slack never
rejects a message: long lists are paged with Previous/Next buttons, long texts are
split over several sections or trimmed, and the block count never exceeds the surface's
maximum.

Buttons carry a command of the /roadmap language in their ``value``; their action_ids
are numbered (``roadmap:cmd:3``) so each is unique within a message or view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from roadmap_bot.adapters.slack.escape import ELLIPSIS, escape, fit, link, trim
from roadmap_bot.chat.by_identity import ByIdentity
from roadmap_bot.chat.render_text import (
    bar,
    page_bounds,
    pages_by_grammar,
    table_lines,
    table_summary,
)
from roadmap_bot.chat.replies import (
    Action,
    Fact,
    Item,
    Mark,
    Meter,
    Reply,
    ReplyKind,
    Section,
    Style,
    Table,
)

# Slack's limits (Block Kit reference).
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100  # Home tab and modals
SECTION_TEXT = 3000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
FIELD_TEXT = 2000
SECTION_FIELDS = 10
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000
ACTIONS_ELEMENTS = 25
FALLBACK_TEXT = 3000  # the notification text; Slack allows more, nobody reads more

PAGE_SIZE = 10
BUTTONS_PER_ROW = 5  # more fit, but a row of five reads best

# Action ids; the app routes on these prefixes.
COMMAND_ACTION = "roadmap:cmd"
URL_ACTION = "roadmap:url"
SHARE_ACTION = "roadmap:share"

MARK_EMOJI: dict[Mark, str] = {
    Mark.NONE: ":white_small_square:",
    Mark.DONE: ":white_check_mark:",
    Mark.READING: ":book:",
    Mark.SKIPPED: ":heavy_minus_sign:",
    Mark.CURRENT: ":arrow_forward:",
}

# What a row's "Open" button runs, by the kind of list it is in.
ITEM_COMMAND: dict[ReplyKind, str] = {
    ReplyKind.LEVEL: "project",
    ReplyKind.SEARCH: "project",
    ReplyKind.PATH: "project",
    ReplyKind.PATHS: "path",
}

Block = dict[str, Any]


@dataclass
class ActionIds:
    """Numbers action_ids so every button of one message (or view) is unique."""

    count: int = 0

    def next(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}:{self.count}"


@dataclass
class _Parts:
    head: list[Block] = field(default_factory=list)
    body: list[Block] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)  # the shown list's rows, as markup
    items_at: tuple[int, int] = (0, 0)  # where the item rows sit in body
    tail: list[Block] = field(default_factory=list)


# -- text objects and blocks ---------------------------------------------------------------


def mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not turn typed '@here' or '#channel' into live links.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": fit(text, limit) or " ", "emoji": True}


def header(title: str) -> Block:
    return {"type": "header", "text": plain(title or "roadmap-bot", HEADER_TEXT)}


def sections(markup: str) -> list[Block]:
    """One or more section blocks holding ``markup``, split at line ends under 3,000."""
    return [{"type": "section", "text": mrkdwn(chunk)} for chunk in _chunks(markup, SECTION_TEXT)]


def context(markup: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(trim(markup, CONTEXT_TEXT))]}


def divider() -> Block:
    return {"type": "divider"}


def button(
    label: str,
    ids: ActionIds,
    *,
    command: str | None = None,
    url: str | None = None,
    style: Style = Style.DEFAULT,
    action_id: str | None = None,
) -> Block | None:
    """A button running ``command`` (or opening ``url``); None when Slack could not take it."""
    element: Block = {"type": "button", "text": plain(label, BUTTON_TEXT)}
    if url is not None:
        if len(url) > BUTTON_URL:
            return None
        element["url"] = url
        element["action_id"] = action_id or ids.next(URL_ACTION)
    elif command is not None:
        if not command.strip() or len(command) > BUTTON_VALUE:
            return None  # a cut command would run something else
        element["value"] = command
        element["action_id"] = action_id or ids.next(COMMAND_ACTION)
    else:
        return None
    if style is not Style.DEFAULT:
        element["style"] = style.value
    return element


def action_rows(buttons: Iterable[Block | None]) -> list[Block]:
    kept = [b for b in buttons if b is not None]
    return [
        {"type": "actions", "elements": kept[i : i + BUTTONS_PER_ROW]}
        for i in range(0, len(kept), BUTTONS_PER_ROW)
    ]


# -- a reply -------------------------------------------------------------------------------


def render_message(
    reply: Reply,
    *,
    page_size: int = PAGE_SIZE,
    max_blocks: int = MESSAGE_BLOCKS,
    share: bool | None = None,
    ids: ActionIds | None = None,
    pageable: Callable[[Reply], bool] = pages_by_grammar,
) -> dict[str, Any]:
    """The message payload: ``text`` (the notification fallback) and ``blocks``.

    ``pageable``: whether a reply's command takes 'page N' (the app passes its core's
    grammar, which knows every feature's words).
    """
    return {
        "text": fallback_text(reply),
        "blocks": render_blocks(
            reply,
            page_size=page_size,
            max_blocks=max_blocks,
            share=share,
            ids=ids,
            pageable=pageable,
        ),
    }


def fallback_text(reply: Reply) -> str:
    """What notifications and screen readers without blocks show."""
    text = reply.title + (f"\n{reply.text}" if reply.text else "")
    if reply.table is not None:  # the grid in words: symbols alone say little aloud
        text += "\n" + "\n".join(table_summary(reply.table))
    return fit(text, FALLBACK_TEXT) or "roadmap-bot"


def table_blocks(table: Table) -> list[Block]:
    """The member-by-step grid: monospace rows (a symbol per step), then its legend."""
    *grid, legend = table_lines(table) if table.legend else [*table_lines(table), ""]
    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn("```" + trim(escape("\n".join(grid)), SECTION_TEXT - 6) + "```"),
        }
    ]
    if legend:
        blocks.append(context(escape(legend)))
    return blocks


def render_blocks(
    reply: Reply,
    *,
    page_size: int = PAGE_SIZE,
    max_blocks: int = MESSAGE_BLOCKS,
    share: bool | None = None,
    ids: ActionIds | None = None,
    pageable: Callable[[Reply], bool] = pages_by_grammar,
) -> list[Block]:
    """Block Kit blocks for ``reply``; never more than ``max_blocks``.

    ``share``: offer "Share to channel" (default: when the reply is shareable and not
    already public). A list longer than ``page_size`` shows the reply's page (or the
    first) with Previous/Next buttons.
    """
    ids = ids or ActionIds()
    if share is None:
        share = reply.shareable and not reply.public
    parts = _Parts(head=[header(reply.title)])
    if reply.text:
        parts.body.extend(sections(escape(reply.text)))
    parts.body.extend(_facts(reply.facts))
    page_info = _items(reply, parts, page_size, ids, pageable(reply))
    if reply.table is not None:
        parts.body.extend(table_blocks(reply.table))
    for section in reply.sections:
        parts.body.extend(sections(_section_markup(section)))
    if reply.links:
        parts.body.append(context(" · ".join(link(x.url, x.label) for x in reply.links)))
    if reply.footer:
        parts.tail.append(context(escape(reply.footer)))
    parts.tail.extend(_buttons(reply, page_info, share, ids))
    return _fit(parts, max_blocks)


def _facts(facts: tuple[Fact, ...]) -> list[Block]:
    fields = [mrkdwn(_field(f)) for f in facts]
    return [
        {"type": "section", "fields": fields[i : i + SECTION_FIELDS]}
        for i in range(0, len(fields), SECTION_FIELDS)
    ]


def _field(fact: Fact) -> str:
    label = f"*{fit(fact.label, 200)}*\n"
    return label + fit(fact.value or "-", FIELD_TEXT - len(label))


@dataclass(frozen=True)
class _PageInfo:
    page: int
    pages: int


def _items(
    reply: Reply, parts: _Parts, page_size: int, ids: ActionIds, pageable: bool
) -> _PageInfo | None:
    """The main list: this page's rows, each with an Open button where one makes sense."""
    if not reply.items:
        return None
    items = list(reply.items)
    # Only a command that takes 'page N' gets page buttons ('help page 2' means nothing);
    # another command's list (help) is shown whole, as far as the block limit allows.
    if reply.command and not pageable:
        page_size = max(page_size, len(items))
    start, end, pages = page_bounds(len(items), reply.page or 1, page_size)
    page = start // page_size + 1
    shown = items[start:end]
    if reply.items_heading:
        parts.body.extend(sections(f"*{escape(reply.items_heading)}*"))
    begin = len(parts.body)
    verb = ITEM_COMMAND.get(reply.kind)
    for item in shown:
        row = item_markup(item)  # already within a section's limit
        block: Block = {"type": "section", "text": mrkdwn(row)}
        if verb and item.slug:
            accessory = button("Open", ids, command=f"{verb} {item.slug}")
            if accessory is not None:
                block["accessory"] = accessory
        parts.body.append(block)
        parts.rows.append(row)
    parts.items_at = (begin, len(parts.body))
    if pages > 1:
        note = f"Page {page} of {pages} · {start + 1}–{end} of {len(items)}"
        if not pageable:
            note = f"{start + 1}–{end} of {len(items)}"
        parts.body.append(context(note))
    return _PageInfo(page, pages) if pageable and pages > 1 else None


@lru_cache(maxsize=8192)
def item_markup(item: Item, bullet: str | None = None) -> str:
    """One row: mark, position, title (linked to its report), slug, detail.

    ``bullet`` replaces the empty mark (lists inside a section are not checklists).
    Cached: items are immutable, and the same rows come back in every level list.
    """
    title = escape(item.title)
    if item.url:
        title = link(item.url, item.title)
    mark = bullet if bullet is not None and item.mark is Mark.NONE else MARK_EMOJI[item.mark]
    row = f"{mark} "
    if item.prefix:
        row += f"{escape(item.prefix)} "
    row += f"*{title}*"
    if item.slug and item.slug.casefold() != item.title.casefold():
        row += f"  `{escape(item.slug)}`"
    if item.detail:
        row += f"\n{escape(item.detail)}"
    return trim(row, SECTION_TEXT)


@lru_cache(maxsize=1024)
def meter_markup(meter: Meter) -> str:
    drawn, count = bar(meter.done, meter.total).rsplit(" ", 1)
    return f"`{drawn}` {count}  {escape(meter.label)}"


def _markup_of_section(section: Section) -> str:
    lines = [f"*{escape(section.heading)}*"]
    if section.text:
        lines.append(escape(section.text))
    lines.extend(item_markup(i, bullet="•") for i in section.items)
    lines.extend(meter_markup(m) for m in section.meters)
    if section.links:
        lines.append(" · ".join(link(x.url, x.label) for x in section.links))
    return "\n".join(lines)


_section_markup = ByIdentity(_markup_of_section)  # a step's shared sections: built once


def _buttons(reply: Reply, page_info: _PageInfo | None, share: bool, ids: ActionIds) -> list[Block]:
    rows: list[Block] = []
    if page_info is not None:
        page, pages = page_info.page, page_info.pages
        pager = []
        if page > 1:
            pager.append(button("◀ Previous", ids, command=reply.page_command(page - 1)))
        if page < pages:
            pager.append(button("Next ▶", ids, command=reply.page_command(page + 1)))
        rows.extend(action_rows(pager))
    if reply.suggestions:
        first, *rest = reply.suggestions
        rows.extend(
            action_rows(
                [
                    button(first, ids, command=first, style=Style.PRIMARY),
                    *(button(s, ids, command=s) for s in rest),
                ]
            )
        )
    own = [_action_button(a, ids) for a in reply.actions]
    if share and reply.command:
        shown = page_info.page if page_info is not None else 1
        command = reply.page_command(shown) if shown > 1 else reply.command
        own.append(button("Share to channel", ids, command=command, action_id=SHARE_ACTION))
    rows.extend(action_rows(own))
    return rows


def _action_button(action: Action, ids: ActionIds) -> Block | None:
    return button(action.label, ids, command=action.command, url=action.url, style=action.style)


# -- the block budget ----------------------------------------------------------------------


def _fit(parts: _Parts, max_blocks: int) -> list[Block]:
    """Head, body and tail within ``max_blocks``: compact the list, then cut the body."""
    budget = max_blocks - len(parts.head) - len(parts.tail)
    body = parts.body
    if len(body) > budget and parts.items_at != (0, 0):
        begin, end = parts.items_at
        body = [*body[:begin], *sections("\n".join(parts.rows)), *body[end:]]
    if len(body) > budget:
        keep = max(budget - 1, 0)
        body = [*body[:keep], context(f"{ELLIPSIS} more than Slack can show in one message.")]
    blocks = [*parts.head, *body, *parts.tail]
    if len(blocks) > max_blocks:  # a reply that is nearly all buttons; keep the first ones
        blocks = blocks[:max_blocks]
    return blocks


def _chunks(markup: str, limit: int) -> Iterator[str]:
    """Split at line ends into pieces of at most ``limit``; trim a single overlong line."""
    piece = ""
    for line in markup.split("\n"):
        line = trim(line, limit)
        if piece and len(piece) + 1 + len(line) > limit:
            yield piece
            piece = line
        else:
            piece = f"{piece}\n{line}" if piece else line
    if piece.strip():
        yield piece
