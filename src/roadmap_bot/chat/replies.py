"""The platform-neutral reply model.

The core decides *what* to say and returns a :class:`Reply`; each adapter decides only
*how it looks* (plain text, Block Kit, Discord embeds) and owns its platform's limits.
Text fields are plain text: no Markdown, no mentions. Renderers escape as their platform
needs. Buttons carry a command of the /roadmap language, so a click is just another
command and every platform handles it the same way.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ReplyKind(StrEnum):
    HELP = "help"
    LEVEL = "level"
    PROJECT = "project"
    PATHS = "paths"
    PATH = "path"
    SEARCH = "search"
    NEXT = "next"
    DONE = "done"
    UNDO = "undo"
    PROGRESS = "progress"
    RANDOM = "random"
    REPORT = "report"
    SCHEDULE = "schedule"
    GROUP = "group"
    SUBSCRIPTION = "subscription"
    DIGEST = "digest"
    NOTICE = "notice"
    ERROR = "error"


class Mark(StrEnum):
    """The asker's relation to an item in a list."""

    NONE = "none"
    DONE = "done"
    READING = "reading"
    SKIPPED = "skipped"
    CURRENT = "current"  # where the asker is: the next step for them


class Style(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Link(_Model):
    label: str
    url: str


class Fact(_Model):
    """A short labelled value: 'Level: beginner'."""

    label: str
    value: str


class Meter(_Model):
    """A progress bar: ``done`` of ``total``."""

    label: str
    done: int
    total: int

    @property
    def ratio(self) -> float:
        return self.done / self.total if self.total else 0.0


class Item(_Model):
    """One row of a list: a project, a path step, a search hit."""

    title: str
    slug: str | None = None
    detail: str = ""
    prefix: str = ""  # "3." for a path step, a level name, ...
    mark: Mark = Mark.NONE
    url: str | None = None


class Section(_Model):
    heading: str
    text: str = ""
    items: tuple[Item, ...] = ()
    links: tuple[Link, ...] = ()
    meters: tuple[Meter, ...] = ()


class Cell(StrEnum):
    """A member's relation to one step of the group's target, in a :class:`Table`."""

    DONE = "done"
    READING = "reading"
    PASSED = "passed"
    NOT_YET = "not yet"


# One symbol per cell, shared by every renderer (the legend names them in words, so a
# state is never told by colour or shape alone).
CELL_SYMBOLS: dict[Cell, str] = {
    Cell.DONE: "✓",
    Cell.READING: "…",
    Cell.PASSED: "-",
    Cell.NOT_YET: "·",
}


def cell_legend() -> str:
    return "   ".join(f"{CELL_SYMBOLS[c]} {c.value}" for c in Cell)


class TableRow(_Model):
    label: str  # a member's display name, as typed on the platform: plain text
    cells: tuple[Cell, ...]
    note: str = ""  # e.g. 'behind by 2 · streak 3 weeks'


class Table(_Model):
    """A compact grid: a row per member, a symbol per step (columns are step numbers)."""

    columns: int  # steps 1..columns
    highlight: int | None = None  # 1-based column of this week's step
    rows: tuple[TableRow, ...]
    legend: str = ""


class Action(_Model):
    """A button: runs ``command`` in the /roadmap language, or opens ``url``."""

    label: str
    command: str | None = None
    url: str | None = None
    style: Style = Style.DEFAULT


class Reply(_Model):
    """Everything a platform needs to show one answer."""

    kind: ReplyKind
    ok: bool = True  # False: the input was wrong (the CLI exits 2)
    title: str
    text: str = ""
    facts: tuple[Fact, ...] = ()
    sections: tuple[Section, ...] = ()
    items: tuple[Item, ...] = ()  # the main list; chat platforms page it
    items_heading: str = ""
    table: Table | None = None  # a member-by-step grid (`group`), already paged by the core
    links: tuple[Link, ...] = ()
    actions: tuple[Action, ...] = ()
    suggestions: tuple[str, ...] = ()  # commands to try instead ("did you mean")
    footer: str = ""
    command: str = ""  # canonical command text; paging appends "page N"
    page: int | None = Field(default=None, ge=1)  # None: the caller did not ask for a page
    shareable: bool = False  # worth a "Share to channel" button
    public: bool = False  # meant for the whole channel (a digest), not only the asker

    def page_command(self, page: int) -> str:
        """The command that shows another page of this reply's list."""
        return f"{self.command} page {page}"


def error(title: str, text: str = "", suggestions: tuple[str, ...] = (), **extra: object) -> Reply:
    """A reply to bad input: what was wrong and what would work."""
    return Reply(
        kind=ReplyKind.ERROR,
        ok=False,
        title=title,
        text=text,
        suggestions=suggestions,
        **extra,  # type: ignore[arg-type]
    )


# The answer to a button or command shape we no longer know (an old message, an older
# version of the bot): every platform says the same short thing, privately.
STALE_BUTTON = Reply(
    kind=ReplyKind.NOTICE,
    ok=False,
    title="This button is from an older message: try /roadmap help",
)
