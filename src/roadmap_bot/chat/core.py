"""The platform-neutral core: a command from someone, somewhere -> a Reply.

Adapters build an :class:`Asker` from their platform's event and call
:meth:`Roadmap.ask` (text) or :meth:`Roadmap.handle` (an already-typed command). The
core never imports a platform library and never raises for bad input.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from roadmap_bot import metrics
from roadmap_bot.chat import cards
from roadmap_bot.chat.commands import (
    CORE_USAGES,
    Command,
    Done,
    Follow,
    Help,
    Invalid,
    Language,
    ListPaths,
    Next,
    Pass,
    Progress,
    Random,
    Reading,
    Search,
    ShowLevel,
    ShowPath,
    ShowProject,
    ShowReport,
    Undo,
    Unfollow,
    Usage,
)
from roadmap_bot.chat.replies import Action, Reply, ReplyKind, error
from roadmap_bot.clock import Clock
from roadmap_bot.learning.catalog import Catalog, LearningPath, Project
from roadmap_bot.learning.recommend import Pick, next_for_person
from roadmap_bot.learning.search import SearchIndex
from roadmap_bot.learning.suggest import close_matches
from roadmap_bot.store import Mark, Status, Store

log = logging.getLogger(__name__)

# Commands whose ``name`` is a project: a suggestion of one works when the name resolves.
_NAMES_A_PROJECT = (ShowProject, Done, Undo, Reading, Pass, ShowReport)


def console_user(name: str) -> str | None:
    """Console users are 'console:<login>'; '@bob' and 'bob' are the same person."""
    login = name.strip().lstrip("@")
    return f"console:{login}" if login and " " not in login else None


@dataclass(frozen=True)
class Profile:
    """What a platform knows about the asker, fetched only when a command needs it."""

    timezone: str | None = None  # IANA zone, e.g. from Slack's users.info
    can_manage_channel: bool = False  # by the platform's rules (admins, Manage Channels)
    # Why this person may never manage the channel's digest, not even one they started
    # (a member of another organization in a shared channel, a guest); None: nothing rules
    # them out.
    outsider: str | None = None


async def _anyone_may() -> Profile:
    return Profile(timezone=None, can_manage_channel=True)


@dataclass(frozen=True)
class Asker:
    """Who asks, and where: ids are platform-qualified (``slack:T1:U1``)."""

    id: str
    name: str
    channel: str | None = None
    # Turns the USER of 'progress USER' (a login, a mention) into a user id.
    resolve_user: Callable[[str], str | None] = field(default=console_user, compare=False)
    # Looks the asker up on the platform (time zone, permissions); may do I/O.
    profile: Callable[[], Awaitable[Profile]] = field(default=_anyone_may, compare=False)

    @property
    def platform(self) -> str:
        return self.id.split(":", 1)[0]


Handler = Callable[[Any, Asker], Awaitable[Reply]]


class Roadmap:
    """The bot's brain: catalog, store, clock and the handlers of the language."""

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        clock: Clock,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.clock = clock
        self.rng = rng or random.Random()
        # Called before every command (e.g. to note who is active in a channel).
        self.observers: list[Callable[[Any, Asker], Awaitable[None]]] = []
        # Design decision headings for project cards; set by the reports feature.
        self.outlines: Callable[[Project], Awaitable[tuple[str, ...]]] | None = None
        # The words this core understands, each with its help: the core's own here,
        # each feature's added by its ``register`` call.
        self.language = Language(CORE_USAGES)
        self._handlers: dict[type, Handler] = {
            Help: self._help,
            ShowLevel: self._level,
            ShowProject: self._project,
            ListPaths: self._paths,
            ShowPath: self._path,
            Search: self._search,
            Next: self._next,
            Done: self._done,
            Undo: self._undo,
            Progress: self._progress,
            Random: self._random,
            Reading: self._reading,
            Pass: self._pass,
            Follow: self._follow,
            Unfollow: self._unfollow,
            Invalid: self._invalid,
        }

    def register(self, command: type, handler: Handler, *usages: Usage) -> None:
        """Add a feature's command: its handler and the words (with help) that parse to it.

        ``usages`` are the words whose parser yields ``command``; 'help' lists them, so
        a feature cannot add a word without its help. A command reached only through
        buttons or slash-command options may come without words.
        """
        self._handlers[command] = handler
        for usage in usages:
            self.language.add(usage)

    def understands(self, command: type) -> bool:
        """Whether a handler is registered for this command type."""
        return command in self._handlers

    def handler(self, command: type) -> Handler:
        """The current handler of a command type, for a feature that adds to its answer."""
        return self._handlers[command]

    def parse(self, text: str) -> Command:
        """The one grammar (commands.py) with every registered word, for adapters."""
        return self.language.parse(text)

    async def ask(self, text: str, who: Asker) -> Reply:
        """Parse and answer one line of the /roadmap language."""
        reply = await self.handle(self.parse(text), who)
        if reply.suggestions and not reply.ok:
            reply = self._tidy_suggestions(reply, text)
        return reply

    async def handle(self, command: Command | Any, who: Asker) -> Reply:
        """Answer a typed command. Bad input is a Reply with ok=False, never an exception."""
        started = time.perf_counter()
        outcome = "error"
        try:
            reply = await self._answer(command, who)
            outcome = "ok" if reply.ok else "refused"
            return reply
        finally:
            kind = metrics.command_kind(command)
            metrics.command(who.platform, kind, outcome, time.perf_counter() - started)

    async def _answer(self, command: Command | Any, who: Asker) -> Reply:
        handler = self._handlers.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        await self.store.remember_user(who.id, who.name, self.clock.now())
        for observe in self.observers:
            await observe(command, who)
        reply = await handler(command, who)
        if reply.suggestions and not reply.ok:
            reply = self._tidy_suggestions(reply, reply.command)
        return reply

    @cached_property
    def index(self) -> SearchIndex:
        """The catalog's search index, built at the first search (``ask beginner`` needs
        none; ``serve`` builds it before its first request, see ``warm``)."""
        return SearchIndex(self.catalog.projects, self.catalog.concepts, self.catalog.synonyms)

    def warm(self) -> None:
        """Build now what the first search or 'did you mean' would build (for a server,
        before its first request)."""
        self.index.warm()

    # -- did you mean ------------------------------------------------------------------

    def _tidy_suggestions(self, reply: Reply, typed: str) -> Reply:
        """Never offer the input that failed; the fixes that work come first."""
        failed = " ".join(typed.casefold().split())
        kept = [s for s in reply.suggestions if " ".join(s.casefold().split()) != failed]
        kept.sort(key=lambda s: not self.works(s))  # stable: each group keeps its order
        tidy = tuple(kept)
        return (
            reply if tidy == reply.suggestions else reply.model_copy(update={"suggestions": tidy})
        )

    def works(self, text: str) -> bool:
        """Whether a suggested command would answer (not just parse): its names resolve."""
        command = self.parse(text)
        if isinstance(command, Invalid):
            return False
        if isinstance(command, ShowProject) and command.bare:
            return bool(self.catalog.find_project(command.name) or self._find_path(command.name))
        if isinstance(command, _NAMES_A_PROJECT):
            return self.catalog.find_project(command.name) is not None
        if isinstance(command, ShowPath | Follow | Unfollow):
            return self._find_path(command.name) is not None
        if isinstance(command, Search):
            return bool(self.index.search(command.text).hits)
        if isinstance(command, Help):
            return (
                command.topic is None
                or self.language.usage_of(command.topic.split()[0]) is not None
            )
        return self.understands(type(command))

    def _repair(self, text: str) -> list[str]:
        """A misspelt command's argument corrected, when it names a project or a path."""
        command = self.parse(text)
        word = text.split()[0]
        if isinstance(command, ShowPath | Follow | Unfollow):
            names = close_matches(command.name, self.catalog.path_keys, limit=2, cutoff=60)
            slugs = [lp.slug for n in names if (lp := self.catalog.find_path(n))]
        elif isinstance(command, _NAMES_A_PROJECT):
            names = close_matches(command.name, self.catalog.project_keys, limit=2)
            slugs = [p.slug for n in names if (p := self.catalog.find_project(n))]
        else:
            return []
        return [f"{word} {slug}" for slug in dict.fromkeys(slugs)]

    # -- handlers ----------------------------------------------------------------------

    async def _invalid(self, command: Invalid, who: Asker) -> Reply:
        return command.reply

    async def _help(self, command: Help, who: Asker) -> Reply:
        return cards.help_reply(self.language, command.topic)

    async def _level(self, command: ShowLevel, who: Asker) -> Reply:
        marks = await self.store.progress(who.id)
        return cards.level_reply(self.catalog, command.level, marks, command.page)

    async def _project(self, command: ShowProject, who: Asker) -> Reply:
        project = self.catalog.find_project(command.name)
        if project is not None:
            return await self.project_card(project, who)
        if command.bare:
            path = self.catalog.find_path(command.name)
            if path is not None:
                return await self._path(ShowPath(path.slug), who)
            return self._unknown_word(command.name)
        return cards.unknown_project(self.catalog, "project", command.name)

    async def project_card(
        self,
        project: Project,
        who: Asker,
        kind: ReplyKind = ReplyKind.PROJECT,
        extra_actions: tuple[Action, ...] = (),
    ) -> Reply:
        """A project card for the asker; feature modules may add to it."""
        marks = await self.store.progress(who.id)
        outline = await self.design_outline(project)
        return cards.project_reply(self.catalog, project, marks, kind, extra_actions, outline)

    async def design_outline(self, project: Project) -> tuple[str, ...]:
        """Design decision headings for a card, from the reports feature when it is wired."""
        return await self.outlines(project) if self.outlines is not None else ()

    def _unknown_word(self, text: str) -> Reply:
        """A first word that is neither a command nor a project: suggest both."""
        first = text.split()[0]
        keywords: list[str] = []
        for fixed in self.language.keyword_suggestions(text):
            # 'projct reddis' -> 'project redis': mend the argument too, or the fix fails
            keywords += [fixed] if self.works(fixed) else self._repair(fixed) or [fixed]
        reply = cards.unknown_project(self.catalog, "project", text, keywords)
        suggestions = reply.suggestions
        if keywords:  # a misspelt command: searching for the typo helps nobody
            suggestions = tuple(s for s in suggestions if s != f"search {text}")
        return error(
            f"I don't know the command or project '{first if keywords else text}'.",
            "Did you mean one of these? 'help' lists every command.",
            suggestions,
            command=text,
        )

    async def _paths(self, command: ListPaths, who: Asker) -> Reply:
        return cards.paths_reply(self.catalog, await self.store.progress(who.id))

    def _find_path(self, name: str) -> LearningPath | None:
        path = self.catalog.find_path(name)
        if path is None:
            # 'path observability' should find 'observability-stack'
            matches = [p for p in self.catalog.paths if name.casefold() in p.slug]
            if len(matches) == 1:
                path = matches[0]
        return path

    async def _path(self, command: ShowPath, who: Asker) -> Reply:
        path = self._find_path(command.name)
        if path is None:
            return cards.unknown_path(self.catalog, command.name)
        marks = await self.store.progress(who.id)
        following = path.slug in await self.store.follows(who.id)
        return cards.path_reply(self.catalog, path, marks, following)

    async def _search(self, command: Search, who: Asker) -> Reply:
        results = self.index.search(command.text)  # every hit: the platforms page them
        marks = await self.store.progress(who.id) if results.hits else {}
        return cards.search_reply(self.catalog, command.text, results, marks, command.page)

    async def _next(self, command: Next, who: Asker) -> Reply:
        marks = await self.store.progress(who.id)
        return cards.next_reply(self.catalog, await self._pick(who.id, marks), marks)

    async def _pick(self, user: str, marks: dict[str, Mark]) -> Pick | None:
        """What to read next: the followed paths (latest first) come from the store."""
        follows = await self.store.follows(user)
        return next_for_person(self.catalog, marks, tuple(follows))

    async def _follow(self, command: Follow, who: Asker) -> Reply:
        path = self._find_path(command.name)
        if path is None:
            return cards.unknown_path(self.catalog, command.name, verb="follow")
        added = await self.store.follow(who.id, path.slug, self.clock.now())
        marks = await self.store.progress(who.id)
        return cards.follow_reply(self.catalog, path, marks, already=not added)

    async def _unfollow(self, command: Unfollow, who: Asker) -> Reply:
        path = self._find_path(command.name)
        if path is None:
            return cards.unknown_path(self.catalog, command.name, verb="unfollow")
        if await self.store.unfollow(who.id, path.slug):
            return cards.unfollow_reply(path)
        follows = [
            found
            for slug in await self.store.follows(who.id)
            if (found := self.catalog.find_path(slug)) is not None
        ]
        return cards.not_following_reply(path, follows)

    async def _done(self, command: Done, who: Asker) -> Reply:
        return await self._mark("done", command.name, Status.DONE, who)

    async def _reading(self, command: Reading, who: Asker) -> Reply:
        return await self._mark("reading", command.name, Status.READING, who)

    async def _pass(self, command: Pass, who: Asker) -> Reply:
        return await self._mark("pass", command.name, Status.SKIPPED, who)

    async def _mark(self, verb: str, name: str, status: Status, who: Asker) -> Reply:
        project = self.catalog.find_project(name)
        if project is None:
            return cards.unknown_project(self.catalog, verb, name)
        previous = await self.store.set_mark(who.id, project.slug, status, self.clock.now())
        return cards.marked_reply(project, previous, status)

    async def _undo(self, command: Undo, who: Asker) -> Reply:
        project = self.catalog.find_project(command.name)
        if project is None:
            return cards.unknown_project(self.catalog, "undo", command.name)
        previous = await self.store.clear_mark(who.id, project.slug, self.clock.now())
        return cards.marked_reply(project, previous, None)

    async def _progress(self, command: Progress, who: Asker) -> Reply:
        if command.user is None:
            user, name = who.id, who.name
        else:
            resolved = who.resolve_user(command.user)
            if resolved is None:
                return error(
                    f"I can't tell who '{command.user}' is.",
                    "Name one person: their login, or a mention.",
                    ("progress",),
                    command="progress",
                )
            user = resolved
            name = await self.store.user_name(user) or command.user.strip().lstrip("@")
        marks = await self.store.progress(user)
        is_self = user == who.id
        if not marks and not is_self:
            return Reply(
                kind=ReplyKind.PROGRESS,
                title=f"{name} has no progress yet.",
                text="Once they mark a project done, it shows up here.",
                command=f"progress {command.user}",
            )
        pick = await self._pick(user, marks) if is_self else None
        return cards.progress_reply(self.catalog, name, marks, is_self, pick)

    async def _random(self, command: Random, who: Asker) -> Reply:
        pool = self.catalog.level(command.level) if command.level else list(self.catalog.projects)
        marks = await self.store.progress(who.id)
        unread = [p for p in pool if p.slug not in marks]
        project = self.rng.choice(unread or pool)
        again = f"random {command.level.value}" if command.level else "random"
        return cards.project_reply(
            self.catalog,
            project,
            marks,
            ReplyKind.RANDOM,
            (Action(label="Another one", command=again),),
            await self.design_outline(project),
        )
