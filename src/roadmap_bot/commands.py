"""The /roadmap command language: text in, a typed command out.

One grammar for every platform. Slack and the console send the text as typed; the
Discord adapter builds the same command objects from its slash-command options. Words
are case-insensitive. Parsing never raises: bad input becomes :class:`Invalid`, which
carries the helpful reply.
"""

from __future__ import annotations

from dataclasses import dataclass

from roadmap_bot.catalog import Level
from roadmap_bot.replies import Reply, error
from roadmap_bot.suggest import close_matches

# -- the commands ------------------------------------------------------------------------


@dataclass(frozen=True)
class Help:
    topic: str | None = None


@dataclass(frozen=True)
class ShowLevel:
    level: Level
    page: int | None = None


@dataclass(frozen=True)
class ShowProject:
    name: str
    bare: bool = False  # typed without the word 'project': may be a misspelt command


@dataclass(frozen=True)
class ListPaths:
    pass


@dataclass(frozen=True)
class ShowPath:
    name: str


@dataclass(frozen=True)
class Search:
    text: str
    page: int | None = None


@dataclass(frozen=True)
class Next:
    pass


@dataclass(frozen=True)
class Done:
    name: str


@dataclass(frozen=True)
class Undo:
    name: str


@dataclass(frozen=True)
class Progress:
    user: str | None = None  # as typed: a login, a mention, ...


@dataclass(frozen=True)
class Random:
    level: Level | None = None


@dataclass(frozen=True)
class Invalid:
    """Input that is not a command; ``reply`` says what was wrong and what would work."""

    reply: Reply


Command = (
    Help
    | ShowLevel
    | ShowProject
    | ListPaths
    | ShowPath
    | Search
    | Next
    | Done
    | Undo
    | Progress
    | Random
    | Invalid
)


# -- the grammar, also the source of the help text --------------------------------------


@dataclass(frozen=True)
class Usage:
    word: str
    syntax: str
    summary: str
    example: str


USAGES: tuple[Usage, ...] = (
    Usage("help", "help [COMMAND]", "this overview, or the details of one command", "help next"),
    Usage(
        "beginner",
        "beginner | intermediate | advanced [page N]",
        "the projects of a level, in the roadmap's order",
        "intermediate",
    ),
    Usage(
        "project",
        "project NAME   (or just NAME)",
        "a project card: summary, concepts, paths, related projects, report",
        "project redis",
    ),
    Usage("paths", "paths", "the themed learning paths", "paths"),
    Usage(
        "path", "path NAME", "a learning path step by step, with your marks", "path observability"
    ),
    Usage(
        "search",
        "search TEXT",
        "search names, summaries, concepts, languages and categories",
        "search raft",
    ),
    Usage("next", "next", "what you should read next, and why", "next"),
    Usage("done", "done NAME", "mark a project's report as read", "done fzf"),
    Usage("undo", "undo NAME", "take back a 'done' (or 'reading' / 'skip')", "undo fzf"),
    Usage(
        "progress",
        "progress [USER]",
        "your progress per level and path, or someone else's",
        "progress",
    ),
    Usage(
        "random", "random [LEVEL]", "a random project, optionally from one level", "random advanced"
    ),
)

# Words that start a command. Level names count too, so 'begginer' gets a suggestion.
KEYWORDS: tuple[str, ...] = (
    "help",
    "beginner",
    "intermediate",
    "advanced",
    "project",
    "paths",
    "path",
    "search",
    "next",
    "done",
    "undo",
    "progress",
    "random",
)

ALIASES: dict[str, str] = {
    "?": "help",
    "find": "search",
    "show": "project",
    "card": "project",
    "learning-paths": "paths",
    "me": "progress",
    "stats": "progress",
    "read": "done",
}

LEVEL_WORDS: dict[str, Level] = {level.value: level for level in Level}


def usage_of(word: str) -> Usage | None:
    word = ALIASES.get(word, word)
    if word in LEVEL_WORDS:
        word = "beginner"
    return next((u for u in USAGES if u.word == word), None)


def parse(text: str) -> Command:
    """Parse one line of the /roadmap language. Never raises."""
    words = text.split()
    if not words:
        return Help()
    head = words[0].casefold()
    head = ALIASES.get(head, head)
    rest_words = words[1:]
    rest = " ".join(rest_words)

    if head == "help":
        return Help(rest.casefold() or None)
    if head in LEVEL_WORDS:
        page = _page(rest_words, f"{head} page 2")
        if isinstance(page, Invalid):
            return page
        return ShowLevel(LEVEL_WORDS[head], page)
    if head == "project":
        return ShowProject(rest) if rest else _needs("project", "a project name", "project redis")
    if head == "paths":
        return ListPaths() if not rest else ShowPath(rest)
    if head == "path":
        return ShowPath(rest) if rest else ListPaths()
    if head == "search":
        text_words, page = _split_page(rest_words)
        if not text_words:
            return _needs("search", "something to look for", "search raft")
        return Search(" ".join(text_words), page)
    if head == "next":
        return Next() if not rest else _no_arguments("next", rest)
    if head in ("done", "undo"):
        if not rest:
            return _needs(head, "a project name", f"{head} fzf")
        return Done(rest) if head == "done" else Undo(rest)
    if head == "progress":
        return Progress(rest or None)
    if head == "random":
        if not rest:
            return Random()
        level = LEVEL_WORDS.get(rest.casefold())
        if level is None:
            return _bad_level("random", rest)
        return Random(level)
    return ShowProject(text.strip(), bare=True)


def keyword_suggestions(text: str) -> list[str]:
    """Commands the user may have meant when the first word is a misspelt keyword."""
    words = text.split()
    if not words:
        return []
    rest = " ".join(words[1:])
    out = []
    for word in close_matches(words[0].casefold(), KEYWORDS, limit=2, cutoff=75):
        out.append(f"{word} {rest}".strip())
    return out


# -- helpers -------------------------------------------------------------------------------


def _page(words: list[str], example: str) -> int | Invalid | None:
    if not words:
        return None
    text_words, page = _split_page(words)
    if text_words or page is None:
        return Invalid(
            error(
                f"I did not understand '{' '.join(words)}'.",
                f"A level takes only a page number, for example: {example}",
                (example,),
            )
        )
    return page


def _split_page(words: list[str]) -> tuple[list[str], int | None]:
    """Split a trailing 'page N' off; a bad N stays part of the text."""
    if len(words) >= 2 and words[-2].casefold() == "page" and words[-1].isdigit():
        number = int(words[-1])
        if number >= 1:
            return words[:-2], number
    return words, None


def _needs(word: str, what: str, example: str) -> Invalid:
    return Invalid(
        error(f"'{word}' needs {what}.", f"For example: {example}", (example,), command=word)
    )


def _no_arguments(word: str, rest: str) -> Invalid:
    return Invalid(
        error(
            f"'{word}' takes no words after it.",
            f"Try just '{word}', or 'project {rest}' if you meant a project.",
            (word, f"project {rest}"),
        )
    )


def _bad_level(word: str, given: str) -> Invalid:
    levels = [level.value for level in Level]
    guesses = close_matches(given.casefold(), levels, limit=1, cutoff=60)
    suggestions = tuple(f"{word} {g}" for g in guesses) or tuple(f"{word} {lv}" for lv in levels)
    return Invalid(
        error(
            f"'{given}' is not a level.",
            "The levels are beginner, intermediate and advanced.",
            suggestions,
        )
    )
