"""The /roadmap command language: text in, a typed command out.

One grammar for every platform. Slack and the console send the text as typed; the
Discord adapter builds the same command objects from its slash-command options. Words
are case-insensitive. Parsing never raises: bad input becomes :class:`Invalid`, which
carries the helpful reply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from roadmap_bot.chat.replies import Reply, error
from roadmap_bot.groups.schedule import (
    ScheduleError,
    parse_time,
    parse_weekday,
    parse_zone,
    shown,
)
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
class Follow:
    """Follow a learning path on purpose: 'next' continues it."""

    name: str


@dataclass(frozen=True)
class Unfollow:
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
class ShowGroup:
    """The group at a glance: every member against the target's steps."""

    page: int | None = None


@dataclass(frozen=True)
class Dashboard:
    """The study-group page's link, to the asker only; ``reset`` replaces it."""

    reset: bool = False


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
    | Follow
    | Unfollow
    | ShowReport
    | Subscribe
    | Unsubscribe
    | ShowSchedule
    | SkipPick
    | Pause
    | Resume
    | PreviewDigest
    | ShowGroup
    | Dashboard
    | Invalid
)


# -- the language: each command word with its help and its parser, registered together --

Parser = Callable[[str, list[str]], Any]  # (the command word, the words after it) -> a command


@dataclass(frozen=True)
class Usage:
    """One command of the language: the words that start it, its help and its parser.

    A feature registers a Usage together with the handler of the commands it parses
    (``Roadmap.register``), so a word cannot be understood without its help text.
    """

    word: str
    syntax: str
    summary: str
    example: str
    parse: Parser = field(compare=False, repr=False)
    also: tuple[str, ...] = ()  # more words that start it: 'find' for 'search'
    group: str = "Browse"  # the heading it is listed under in 'help'

    @property
    def words(self) -> tuple[str, ...]:
        return (self.word, *self.also)


# Length limits, checked before anything is looked up: no name in the catalog, no user
# name and no search comes near them, and an answer never repeats a page of text back.
MAX_COMMAND_CHARS = 1000
MAX_NAME_CHARS = 100
# Words whose arguments are more than one name; their parts are checked one by one.
_LONG_ARGUMENTS = frozenset({"search", "find", "subscribe"})


class Language:
    """The words a core understands. Parsing never raises: bad input is :class:`Invalid`."""

    def __init__(self, usages: Iterable[Usage] = ()) -> None:
        self._usages: dict[str, Usage] = {}
        self._by_word: dict[str, Usage] = {}
        for usage in usages:
            self.add(usage)

    def add(self, usage: Usage) -> None:
        # The same command again (a feature wired twice) replaces itself; another
        # command claiming a taken word is a mistake.
        taken = [w for w in usage.words if w in self._by_word and self._by_word[w] != usage]
        if taken:
            raise ValueError(f"command words registered twice: {', '.join(taken)}")
        self._usages[usage.word] = usage
        for word in usage.words:
            self._by_word[word] = usage

    @property
    def usages(self) -> tuple[Usage, ...]:
        """Every command, grouped as 'help' lists them (groups in order of first use)."""
        groups: dict[str, list[Usage]] = {}
        for usage in self._usages.values():
            groups.setdefault(usage.group, []).append(usage)
        return tuple(u for group in groups.values() for u in group)

    @property
    def keywords(self) -> tuple[str, ...]:
        """Every word that starts a command (for 'did you mean')."""
        return tuple(w for w in self._by_word if w.isalpha() or "-" in w)

    def usage_of(self, word: str) -> Usage | None:
        return self._by_word.get(word.casefold())

    def parse(self, text: str) -> Command:
        """Parse one line of the /roadmap language. Never raises."""
        if len(text) > MAX_COMMAND_CHARS:
            return Invalid(
                error(
                    f"That command is {len(text):,} characters long; I read at most "
                    f"{MAX_COMMAND_CHARS:,}.",
                    "Commands are short, e.g. 'project redis' or 'search raft'. 'help' lists them.",
                    ("help",),
                )
            )
        words = text.split()
        if not words:
            return Help()
        head = words[0].casefold()
        usage = self._by_word.get(head)
        named = " ".join(words[1:]) if usage is not None else text.strip()
        if (usage is None or head not in _LONG_ARGUMENTS) and len(named) > MAX_NAME_CHARS:
            return _name_too_long(named)
        if usage is None:
            return ShowProject(text.strip(), bare=True)
        return usage.parse(head, words[1:])  # type: ignore[no-any-return]

    def keyword_suggestions(self, text: str) -> list[str]:
        """Commands the user may have meant when the first word is a misspelt keyword."""
        words = text.split()
        if not words:
            return []
        rest = " ".join(words[1:])
        out = []
        for word in close_matches(words[0].casefold(), self.keywords, limit=2, cutoff=75):
            usage = self._by_word[word]
            out.append(f"{usage.word if word in usage.also else word} {rest}".strip())
        return list(dict.fromkeys(out))


# -- the core's own commands ------------------------------------------------------------


def _parse_help(head: str, words: list[str]) -> Command:
    return Help(" ".join(words).casefold() or None)


def _parse_level(head: str, words: list[str]) -> Command:
    if head == "level":  # Discord's subcommand, typed: 'level beginner [page N]'
        if not words:
            return needs("level", "a level: beginner, intermediate or advanced", "level beginner")
        level = LEVEL_WORDS.get(words[0].casefold())
        if level is None:
            return _bad_level("level", " ".join(words))
        head, words = level.value, words[1:]
    page = _page(words, f"{head} page 2")
    if isinstance(page, Invalid):
        return page
    return ShowLevel(LEVEL_WORDS[head], page)


def _parse_project(head: str, words: list[str]) -> Command:
    rest = " ".join(words)
    return ShowProject(rest) if rest else needs("project", "a project name", "project redis")


def _parse_paths(head: str, words: list[str]) -> Command:
    rest = " ".join(words)
    return ShowPath(rest) if rest else ListPaths()


def _parse_search(head: str, words: list[str]) -> Command:
    text_words, page = _split_page(words)
    if not text_words:
        return needs("search", "something to look for", "search raft")
    return Search(" ".join(text_words), page)


def _parse_next(head: str, words: list[str]) -> Command:
    return Next() if not words else _no_arguments("next", " ".join(words))


def _parse_mark(head: str, words: list[str]) -> Command:
    """done / undo / reading / pass NAME."""
    word = "done" if head == "read" else head
    rest = " ".join(words)
    if not rest:
        example = "kafka" if word in ("reading", "pass") else "fzf"
        return needs(word, "a project name", f"{word} {example}")
    return _MARKS[word](rest)  # type: ignore[no-any-return]


_MARKS: dict[str, type] = {"done": Done, "undo": Undo, "reading": Reading, "pass": Pass}


def _parse_follow(head: str, words: list[str]) -> Command:
    rest = " ".join(words)
    if not rest:
        return needs(head, "a learning path", f"{head} container-ecosystem")
    return Follow(rest) if head == "follow" else Unfollow(rest)


def _parse_progress(head: str, words: list[str]) -> Command:
    return Progress(" ".join(words) or None)


def _parse_random(head: str, words: list[str]) -> Command:
    rest = " ".join(words)
    if not rest:
        return Random()
    level = LEVEL_WORDS.get(rest.casefold())
    if level is None:
        return _bad_level("random", rest)
    return Random(level)


LEVEL_WORDS: dict[str, Level] = {level.value: level for level in Level}

# The core's commands in the order 'help' lists them. Features (reports, study groups,
# following paths) register theirs next to their handlers.
HELP = Usage(
    "help",
    "help [COMMAND]",
    "this overview, or the details of one command",
    "help next",
    _parse_help,
    also=("?",),
)
LEVELS = Usage(
    "beginner",
    "beginner | intermediate | advanced [page N]",
    "the projects of a level, in the roadmap's order (also: level LEVEL)",
    "intermediate",
    _parse_level,
    also=("intermediate", "advanced", "level"),
)
PROJECT = Usage(
    "project",
    "project NAME   (or just NAME)",
    "a project card: summary, concepts, paths, related projects, report",
    "project redis",
    _parse_project,
    also=("show", "card"),
)
PATHS = Usage(
    "paths", "paths", "the themed learning paths", "paths", _parse_paths, also=("learning-paths",)
)
PATH = Usage(
    "path", "path NAME", "a learning path step by step, with your marks", "path observability",
    _parse_paths,
)  # fmt: skip
SEARCH = Usage(
    "search",
    "search TEXT",
    "search names, concepts, categories, languages and summaries",
    "search raft",
    _parse_search,
    also=("find",),
)
RANDOM = Usage(
    "random",
    "random [LEVEL]",
    "a random project, optionally from one level",
    "random advanced",
    _parse_random,
)
NEXT = Usage(
    "next", "next", "what you should read next, and why", "next", _parse_next, group="Your reading"
)
DONE = Usage(
    "done",
    "done NAME",
    "mark a project's report as read",
    "done fzf",
    _parse_mark,
    also=("read",),
    group="Your reading",
)
READING = Usage(
    "reading",
    "reading NAME",
    "mark a project as being read now",
    "reading kafka",
    _parse_mark,
    group="Your reading",
)
PASS = Usage(
    "pass",
    "pass NAME",
    "skip a project for yourself: it is never recommended to you again",
    "pass kafka",
    _parse_mark,
    group="Your reading",
)
UNDO = Usage(
    "undo",
    "undo NAME",
    "take back a 'done', 'reading' or 'pass'",
    "undo fzf",
    _parse_mark,
    group="Your reading",
)
FOLLOW = Usage(
    "follow",
    "follow PATH",
    "follow a learning path: 'next' continues it step by step, whatever the level",
    "follow container-ecosystem",
    _parse_follow,
    group="Your reading",
)
UNFOLLOW = Usage(
    "unfollow",
    "unfollow PATH",
    "stop following a learning path (your marks stay)",
    "unfollow container-ecosystem",
    _parse_follow,
    group="Your reading",
)
PROGRESS = Usage(
    "progress",
    "progress [USER]",
    "your progress per level and path, or someone else's",
    "progress",
    _parse_progress,
    also=("me", "stats"),
    group="Your reading",
)

CORE_USAGES: tuple[Usage, ...] = (
    HELP,
    LEVELS,
    PROJECT,
    PATHS,
    PATH,
    SEARCH,
    RANDOM,
    NEXT,
    DONE,
    READING,
    PASS,
    UNDO,
    FOLLOW,
    UNFOLLOW,
    PROGRESS,
)

# The core's words alone, for parsing without a Roadmap (tests, page checks). A running
# bot parses with ``Roadmap.language``, which also holds the features' words.
CORE_LANGUAGE = Language(CORE_USAGES)


def parse(text: str) -> Command:
    """Parse one line with the core's own words. Never raises."""
    return CORE_LANGUAGE.parse(text)


def keyword_suggestions(text: str) -> list[str]:
    """Core commands the user may have meant when the first word is misspelt."""
    return CORE_LANGUAGE.keyword_suggestions(text)


# -- study groups: parsed here so Slack, Discord and text share one grammar ------------------


def parse_channel_command(head: str, words: list[str]) -> Command:
    """subscribe, unsubscribe, schedule, skip, pause, resume, digest."""
    return _channel_command(head, words)


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
    if len(" ".join(target)) > MAX_NAME_CHARS:
        return _name_too_long(" ".join(target))
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
        if len(words[0]) > len("YYYY-MM-DD"):
            raise ValueError("too long for a date")
        until = date.fromisoformat(words[0])
    except ValueError:
        return Invalid(
            error(
                f"'{shown(words[0])}' is not a date.",
                f"Use YYYY-MM-DD, for example: {example}",
                (example,),
            )
        )
    return Pause(until)


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


def _name_too_long(name: str) -> Invalid:
    return Invalid(
        error(
            f"'{shown(name)}' is {len(name):,} characters long; no project, path, level or "
            f"person has a name over {MAX_NAME_CHARS}.",
            "Try a shorter name, or 'search' with a word or two from it.",
            ("help",),
        )
    )


def needs(word: str, what: str, example: str) -> Invalid:
    """'WORD needs WHAT', with an example: for parsers of words that take an argument."""
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
