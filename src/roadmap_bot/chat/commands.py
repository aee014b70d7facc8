"""The /roadmap command language: text in, a typed command out.

One grammar for every platform. Slack and the console send the text as typed; the
Discord adapter builds the same command objects from its slash-command options. Words
are case-insensitive. Parsing never raises: bad input becomes :class:`Invalid`, which
carries the helpful reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from roadmap_bot.chat.replies import Reply, error
from roadmap_bot.groups.schedule import ScheduleError, parse_time, parse_weekday, parse_zone
from roadmap_bot.learning.catalog import Level
from roadmap_bot.learning.suggest import close_matches

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
class Reading:
    """Mark a project as being read."""

    name: str


@dataclass(frozen=True)
class Pass:
    """'Skip for me': never recommend this project to me."""

    name: str


@dataclass(frozen=True)
class ShowReport:
    """A report's outline: design decisions, takeaways, release, section links."""

    name: str


# -- study groups: a channel's weekly digest ---------------------------------------------


@dataclass(frozen=True)
class Subscribe:
    target: str  # a path (slug or title) or a level, as typed
    weekday: int | None = None  # 0 = Monday; None: the default
    at: time | None = None
    zone: str | None = None  # a valid IANA name; None: the asker's zone or the default


@dataclass(frozen=True)
class Unsubscribe:
    pass


@dataclass(frozen=True)
class ShowSchedule:
    pass


@dataclass(frozen=True)
class SkipPick:
    """Skip the channel's upcoming pick."""


@dataclass(frozen=True)
class Pause:
    until: date


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class PreviewDigest:
    pass


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
    | Reading
    | Pass
    | ShowReport
    | Subscribe
    | Unsubscribe
    | ShowSchedule
    | SkipPick
    | Pause
    | Resume
    | PreviewDigest
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
    Usage(
        "report",
        "report NAME",
        "a report's outline: its design decisions, takeaways and section links",
        "report kafka",
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
    "report",
    "paths",
    "path",
    "search",
    "next",
    "done",
    "undo",
    "progress",
    "random",
    "reading",
    "pass",
    "subscribe",
    "unsubscribe",
    "schedule",
    "skip",
    "pause",
    "resume",
    "digest",
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
    "outline": "report",
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
    if head == "report":
        return ShowReport(rest) if rest else _needs("report", "a project name", "report kafka")
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
    if head in ("reading", "pass"):
        if not rest:
            return _needs(head, "a project name", f"{head} kafka")
        return Reading(rest) if head == "reading" else Pass(rest)
    if head in _CHANNEL_WORDS:
        return _channel_command(head, rest_words)
    return ShowProject(text.strip(), bare=True)


_CHANNEL_WORDS: dict[str, type] = {
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "schedule": ShowSchedule,
    "skip": SkipPick,
    "pause": Pause,
    "resume": Resume,
    "digest": PreviewDigest,
}
_OPTION_WORDS = ("on", "at", "tz")


def _channel_command(head: str, words: list[str]) -> Command:
    if head == "subscribe":
        return _subscribe(words)
    if head == "pause":
        return _pause(words)
    if words:
        if head == "skip":
            name = " ".join(words)
            return Invalid(
                error(
                    "'skip' skips the channel's upcoming pick and takes no name.",
                    f"To skip a project for yourself only, use 'pass {name}'.",
                    ("skip", f"pass {name}"),
                )
            )
        return _no_arguments(head, " ".join(words))
    return _CHANNEL_WORDS[head]()  # type: ignore[no-any-return]


def _subscribe(words: list[str]) -> Command:
    example = "subscribe observability-stack on monday at 09:00 tz Europe/Berlin"
    target: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words) and words[index].casefold() not in _OPTION_WORDS:
        target.append(words[index])
        index += 1
    while index < len(words):
        option = words[index].casefold()
        if option not in _OPTION_WORDS:
            return Invalid(
                error(
                    f"I did not understand '{words[index]}' in the subscription.",
                    f"Options are 'on WEEKDAY', 'at HH:MM' and 'tz ZONE'. For example: {example}",
                    (example,),
                )
            )
        if index + 1 >= len(words):
            return Invalid(
                error(f"'{option}' needs a value.", f"For example: {example}", (example,))
            )
        if option in options:
            return Invalid(
                error(f"'{option}' is given twice.", f"For example: {example}", (example,))
            )
        options[option] = words[index + 1]
        index += 2
    if not target:
        return Invalid(
            error(
                "'subscribe' needs a learning path or a level.",
                f"For example: {example}. 'paths' lists the paths.",
                ("paths", "subscribe beginner"),
            )
        )
    return subscribe_command(
        " ".join(target), options.get("on"), options.get("at"), options.get("tz"), " ".join(words)
    )


def subscribe_command(
    target: str,
    on: str | None = None,
    at: str | None = None,
    tz: str | None = None,
    typed: str | None = None,
) -> Subscribe | Invalid:
    """A Subscribe from its parts as typed (words or slash-command options), or why not.

    ``typed`` is the text after 'subscribe' (default: rebuilt from the parts), for the
    corrected commands offered when the zone is misspelt.
    """
    example = "subscribe observability-stack on monday at 09:00 tz Europe/Berlin"
    try:
        weekday = parse_weekday(on) if on is not None else None
        when = parse_time(at) if at is not None else None
        zone = parse_zone(tz) if tz is not None else None
    except ScheduleError as problem:
        if typed is None:
            parts = [target, *(f"{w} {v}" for w, v in (("on", on), ("at", at), ("tz", tz)) if v)]
            typed = " ".join(parts)
        fixes = tuple(typed.replace(tz or "", g) for g in problem.guesses)
        return Invalid(
            error(
                str(problem),
                f"For example: {example}",
                tuple(f"subscribe {f}" for f in fixes) or (example,),
            )
        )
    return Subscribe(target, weekday, when, zone)


def pause_command(until: str) -> Pause | Invalid:
    """A Pause until a YYYY-MM-DD date as typed, or why not."""
    return _pause(until.split())


def _pause(words: list[str]) -> Pause | Invalid:
    example = "pause 2027-01-04"
    if len(words) != 1:
        return Invalid(
            error(
                "'pause' needs the date the digests should start again.",
                f"Use a date as YYYY-MM-DD, for example: {example}",
                (example,),
            )
        )
    try:
        until = date.fromisoformat(words[0])
    except ValueError:
        return Invalid(
            error(
                f"'{words[0]}' is not a date.",
                f"Use YYYY-MM-DD, for example: {example}",
                (example,),
            )
        )
    return Pause(until)


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
