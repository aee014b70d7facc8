"""Reply -> a Discord message payload: one embed and rows of buttons, within Discord's limits.

Pure functions, no discord.py import: the client turns the payload into discord.py
objects, ``roadmap-bot ask --format discord`` prints it, and a digest (``public=True``)
reuses it. Long lists are paged (when the command takes ``page N``) or trimmed, so
Discord never rejects a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from roadmap_bot.chat.render_text import bar, page_bounds, pages_by_grammar, table_lines
from roadmap_bot.chat.replies import (
    Action,
    Item,
    Link,
    Mark,
    Meter,
    Reply,
    ReplyKind,
    Section,
    Style,
)

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
CONTENT_MAX = 2000
ROWS_MAX = 5
BUTTONS_PER_ROW = 5
LABEL_MAX = 80
CUSTOM_ID_MAX = 100

PAGE_SIZE = 10  # list items per page: a screenful, and well inside the description limit
EPHEMERAL = 1 << 6  # message flag: only the asker sees it
ELLIPSIS = "…"

# Every custom_id we make is ``rb:<kind>:<command>``: namespaced so other apps' ids never
# match, and carrying a /roadmap command so a click needs no server-side state.
CUSTOM_ID_PREFIX = "rb"
CUSTOM_ID_RE = re.compile(rf"{CUSTOM_ID_PREFIX}:(?P<kind>[a-z]+):(?P<command>.*)", re.DOTALL)

MARK_EMOJI: dict[Mark, str] = {
    Mark.NONE: "•",
    Mark.DONE: "✅",
    Mark.READING: "📖",
    Mark.SKIPPED: "⏭️",
    Mark.CURRENT: "👉",
}

COLOURS: dict[ReplyKind, int] = {
    ReplyKind.ERROR: 0xED4245,
    ReplyKind.DONE: 0x57F287,
    ReplyKind.DIGEST: 0xFEE75C,
}
DEFAULT_COLOUR = 0x5865F2


class ButtonKind(StrEnum):
    """What a click does with the command it carries."""

    COMMAND = "c"  # answer it in a new message
    PAGE = "p"  # answer it by replacing the message (paging)
    SHARE = "s"  # answer it publicly in the channel


class ButtonStyle(IntEnum):
    PRIMARY = 1
    SECONDARY = 2
    SUCCESS = 3
    DANGER = 4
    LINK = 5


_STYLES = {Style.PRIMARY: ButtonStyle.PRIMARY, Style.DANGER: ButtonStyle.DANGER}


def custom_id(kind: ButtonKind, command: str) -> str:
    return f"{CUSTOM_ID_PREFIX}:{kind.value}:{command}"


@dataclass(frozen=True)
class Button:
    """A button: runs a command (``custom_id``) or opens ``url``."""

    label: str
    style: ButtonStyle = ButtonStyle.SECONDARY
    custom_id: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": 2, "style": int(self.style), "label": self.label}
        if self.url is not None:
            out["url"] = self.url
        else:
            out["custom_id"] = self.custom_id
        return out


@dataclass(frozen=True)
class Message:
    """What the bot sends: embeds, button rows and whether only the asker sees it."""

    embeds: tuple[dict[str, Any], ...]
    rows: tuple[tuple[Button, ...], ...] = ()
    ephemeral: bool = True
    content: str = ""

    def payload(self) -> dict[str, Any]:
        """The message as Discord's API takes it (also what ``ask --format discord`` prints)."""
        out: dict[str, Any] = {
            "embeds": list(self.embeds),
            "components": [
                {"type": 1, "components": [b.to_dict() for b in row]} for row in self.rows
            ],
            "allowed_mentions": {"parse": []},
        }
        if self.content:
            out["content"] = self.content
        if self.ephemeral:
            out["flags"] = EPHEMERAL
        return out

    @property
    def buttons(self) -> list[Button]:
        return [b for row in self.rows for b in row]


# -- text helpers ------------------------------------------------------------------------------

_URL = r"https?://[^\s<>]+"
_MARKDOWN = r"[\\*_~`|\[\]]|^>{1,3}\s|^#{1,3}\s|^-#\s|^\s*[-*]\s|^\d+\.\s"
_ESCAPE_RE = re.compile(rf"(?P<url>{_URL})|(?P<md>{_MARKDOWN})", re.MULTILINE)


def escape(text: str) -> str:
    """Escape Discord markdown in plain text, leaving bare URLs clickable."""

    def replace(match: re.Match[str]) -> str:
        if match.group("url"):
            return match.group("url")
        return "\\" + match.group("md")

    return _ESCAPE_RE.sub(replace, text)


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS if limit > 0 else ""


def fit_lines(lines: Sequence[str], limit: int) -> str:
    """Join lines up to ``limit`` characters; what does not fit becomes '… and N more'."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        cost = len(line) + (1 if out else 0)
        left = len(lines) - index
        reserve = 0 if left == 1 else len(f"\n{ELLIPSIS} and {left} more")
        if used + cost + reserve > limit:
            if not out:  # not even one line fits: cut it
                return clip(line, limit)
            out.append(f"{ELLIPSIS} and {left} more")
            break
        out.append(line)
        used += cost
    return "\n".join(out)


# -- the renderer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """How to show a reply: what the adapter knows that the core does not."""

    offer_share: bool = True  # False in DMs: there is nobody to share with
    shared_by: str | None = None  # set when posting a shared card for everyone
    pageable: Callable[[Reply], bool] = field(default=pages_by_grammar)


def render(reply: Reply, options: Options | None = None) -> Message:
    """One embed and its buttons for a Reply; always within Discord's limits."""
    options = options or Options()
    public = reply.public or options.shared_by is not None
    items, page, pages = _page(reply, options)

    footer_parts = [reply.footer] if reply.footer else []
    if pages > 1:
        footer_parts.append(f"Page {page} of {pages}")
    if options.shared_by:
        footer_parts.append(f"Shared by {options.shared_by}")
    footer = clip(" · ".join(footer_parts), FOOTER_MAX)

    fields = _fields(reply)
    title = clip(escape(reply.title), TITLE_MAX)
    intro = escape(reply.text)
    if reply.table is not None:
        intro = f"{intro}\n{table_block(reply)}".strip()
    heading = f"**{escape(reply.items_heading)}**" if reply.items_heading and items else ""
    rest = len(title) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    wanted = min(len(_description(intro, heading, items, DESCRIPTION_MAX)), 600)
    # The 6,000 total comes first: drop trailing fields until a useful description fits.
    while fields and rest + wanted > EMBED_TOTAL_MAX:
        dropped = fields.pop()
        rest -= len(dropped["name"]) + len(dropped["value"])
    budget = max(0, min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - rest))
    description = _description(intro, heading, items, budget)

    embed: dict[str, Any] = {
        "title": title,
        "color": COLOURS.get(reply.kind, DEFAULT_COLOUR),
    }
    if description:
        embed["description"] = description
    if fields:
        embed["fields"] = fields
    if footer:
        embed["footer"] = {"text": footer}
    rows = _rows(reply, options, public, page, pages)
    return Message(embeds=(embed,), rows=rows, ephemeral=not public)


def table_block(reply: Reply) -> str:
    """The member-by-step grid in a code block (monospace keeps its columns); a backtick
    in a name could close the block, so it is swapped for a look-alike."""
    assert reply.table is not None
    lines = [line.replace("`", "ˋ") for line in table_lines(reply.table)]
    return "```\n" + fit_lines(lines, 3000) + "\n```"


def _page(reply: Reply, options: Options) -> tuple[list[Item], int, int]:
    items = list(reply.items)
    if len(items) <= PAGE_SIZE or not options.pageable(reply):
        return items, 1, 1
    start, end, pages = page_bounds(len(items), reply.page or 1, PAGE_SIZE)
    return items[start:end], min(max(reply.page or 1, 1), pages), pages


def _description(intro: str, heading: str, items: Sequence[Item], budget: int) -> str:
    if not items:
        return clip(intro, budget)
    if len(intro) > budget // 2:
        intro = clip(intro, budget // 2)
    head = f"{intro}\n\n" if intro else ""
    if heading:  # the heading sits right above its list
        head += f"{heading}\n"
    room = budget - len(head)
    # Shorten details before dropping items: every item keeps its name and mark.
    for detail_max in (None, 200, 120, 60, 0):
        lines = [item_line(i, detail_max) for i in items]
        if sum(len(line) + 1 for line in lines) - 1 <= room:
            break
    return head + fit_lines(lines, room)


def item_line(item: Item, detail_max: int | None = None) -> str:
    """'✅ 3. **[Redis](url)** `redis` — summary'."""
    name = f"**{escape(item.title)}**"
    if item.url:
        name = f"[{name}]({item.url})"
    parts = [MARK_EMOJI[item.mark]]
    if item.prefix:
        parts.append(escape(item.prefix))
    parts.append(name)
    if item.slug and item.slug.casefold() != item.title.casefold():
        parts.append(f"`{item.slug}`")
    line = " ".join(parts)
    detail = item.detail if detail_max is None else clip(item.detail, detail_max)
    if detail:
        line += f" — {escape(detail)}"
    return line


def _meter_line(meter: Meter) -> str:
    return f"`{bar(meter.done, meter.total)}` {escape(meter.label)}"


def _field(name: str, value: str, inline: bool = False) -> dict[str, Any]:
    return {
        "name": clip(escape(name), FIELD_NAME_MAX) or "\u200b",
        "value": value or "—",
        "inline": inline,
    }


def _section_value(section: Section) -> str:
    """A section as one field: its text, its items, its meters and links.

    Only the items are trimmed, so "… and N more" counts items (a report's decisions)
    and never the text or the links, which stay: the links lead to what was left out.
    """
    head = [clip(escape(section.text), FIELD_VALUE_MAX // 2)] if section.text else []
    tail = [_meter_line(m) for m in section.meters]
    fixed = sum(len(line) + 1 for line in (*head, *tail))
    if section.links:
        tail.append(_links_line(section.links, FIELD_VALUE_MAX - fixed - 1))
        fixed += len(tail[-1]) + 1
    items = fit_lines([item_line(i, 120) for i in section.items], FIELD_VALUE_MAX - fixed)
    return "\n".join(line for line in (*head, items, *tail) if line)


def _links_line(links: Sequence[Link], limit: int) -> str:
    """Links joined by ' · ', as many whole ones as fit (a cut link would be a broken one)."""
    out = ""
    for link in links:
        piece = f"{' · ' if out else ''}[{escape(link.label)}]({link.url})"
        if len(out) + len(piece) > limit - 2:
            return out + (f" {ELLIPSIS}" if out else "")
        out += piece
    return out


def _fields(reply: Reply) -> list[dict[str, Any]]:
    fields = [
        _field(f.label, clip(escape(f.value), FIELD_VALUE_MAX), inline=True) for f in reply.facts
    ]
    fields.extend(_field(s.heading, _section_value(s)) for s in reply.sections)
    if reply.links:
        links = [f"[{escape(link.label)}]({link.url})" for link in reply.links]
        fields.append(_field("Links", fit_lines(links, FIELD_VALUE_MAX)))
    return fields[:FIELDS_MAX]


def _rows(
    reply: Reply, options: Options, public: bool, page: int, pages: int
) -> tuple[tuple[Button, ...], ...]:
    seen: set[str] = set()

    def keep(button: Button | None) -> Button | None:
        # Discord rejects a message with a repeated or over-long custom_id: skip those.
        if button is None:
            return None
        key = button.custom_id or f"url:{button.url}:{button.label}"
        if key in seen or len(button.custom_id or "") > CUSTOM_ID_MAX:
            return None
        seen.add(key)
        return button

    actions = [b for a in reply.actions if (b := keep(_action_button(a)))]
    suggestions = [
        b
        for s in reply.suggestions
        if (b := keep(Button(clip(s, LABEL_MAX), custom_id=custom_id(ButtonKind.COMMAND, s))))
    ]
    nav: list[Button] = []
    if pages > 1:
        if page > 1:
            nav.append(_page_button(f"◀ Page {page - 1}", reply.page_command(page - 1)))
        if page < pages:
            nav.append(_page_button(f"Page {page + 1} ▶", reply.page_command(page + 1)))
    if reply.shareable and reply.command and options.offer_share and not public:
        shown = reply.page_command(page) if pages > 1 and page > 1 else reply.command
        nav.append(Button("Share to channel", custom_id=custom_id(ButtonKind.SHARE, shown)))
    nav = [b for b in nav if keep(b)]

    rows: list[tuple[Button, ...]] = []
    for group in (actions, suggestions, nav):
        for start in range(0, len(group), BUTTONS_PER_ROW):
            rows.append(tuple(group[start : start + BUTTONS_PER_ROW]))
    if len(rows) > ROWS_MAX:
        # Keep the paging/share row: it is how the rest of the answer is reached.
        tail = [tuple(nav)] if nav else []
        rows = rows[: ROWS_MAX - len(tail)] + tail
    return tuple(rows)


def _page_button(label: str, command: str) -> Button:
    return Button(label, custom_id=custom_id(ButtonKind.PAGE, command))


def _action_button(action: Action) -> Button | None:
    label = clip(action.label, LABEL_MAX)
    if action.url:
        return Button(label, ButtonStyle.LINK, url=action.url)
    if action.command:
        style = _STYLES.get(action.style, ButtonStyle.SECONDARY)
        return Button(label, style, custom_id=custom_id(ButtonKind.COMMAND, action.command))
    return None


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6,000 total of an embed."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    total += len(embed.get("author", {}).get("name", ""))
    total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return total
