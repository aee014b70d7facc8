"""The /roadmap app-command group: one subcommand per command of the core language.

Options build the core's typed commands directly; nothing here decides what to say.
Free-text options the grammar would parse (a time, a zone, a date) go through the same
builders as typed text, so a mistake gets the same helpful answer on every platform.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from roadmap_bot.adapters.discord.autocomplete import Choice, Completer, zones
from roadmap_bot.adapters.discord.interactions import Responder, user_id
from roadmap_bot.chat.commands import (
    Dashboard,
    Done,
    Follow,
    Help,
    ListPaths,
    Next,
    Pass,
    PreviewDigest,
    Progress,
    Random,
    Reading,
    Resume,
    Search,
    ShowGroup,
    ShowLevel,
    ShowPath,
    ShowProject,
    ShowReport,
    ShowSchedule,
    SkipPick,
    Undo,
    Unfollow,
    Unsubscribe,
    pause_command,
    subscribe_command,
)
from roadmap_bot.groups.schedule import WEEKDAYS
from roadmap_bot.learning.catalog import Level

log = logging.getLogger(__name__)

AnyInteraction = discord.Interaction[discord.Client]

# Free-text limits keep every command a button may carry inside a 100-character custom_id.
NAME_MAX = 60
SEARCH_MAX = 80
PAGE_MAX = 99
TIME_MAX = 8  # '09:00', '5:30 pm'
ZONE_MAX = 40  # the longest IANA names are about 30
DATE_MAX = 20  # a date needs 10; more still gets the grammar's explanation

LEVELS = [app_commands.Choice(name=lv.value, value=lv.value) for lv in Level]
WEEKDAY_CHOICES = [app_commands.Choice(name=day.capitalize(), value=day) for day in WEEKDAYS]


def _choices(found: list[Choice]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=c.name, value=c.value) for c in found]


class RoadmapGroup(app_commands.Group):
    """/roadmap and its subcommands."""

    def __init__(self, responder: Responder, completer: Completer) -> None:
        super().__init__(
            name="roadmap",
            description="Learn how great systems are built: the roadmap of architecture reports",
            allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
            allowed_installs=app_commands.AppInstallationType(guild=True),
        )
        self.responder = responder
        self.completer = completer

    # -- browsing -----------------------------------------------------------------------

    @app_commands.command(name="help", description="Every command, or one with an example")
    @app_commands.describe(topic="a command to explain")
    async def help_(
        self, interaction: AnyInteraction, topic: app_commands.Range[str, 1, NAME_MAX] | None = None
    ) -> None:
        await self.responder.command(interaction, Help(topic.casefold() if topic else None))

    @app_commands.command(
        name="level", description="The projects of a level, in the roadmap's order"
    )
    @app_commands.describe(
        level="beginner, intermediate or advanced", page="which page of the list"
    )
    @app_commands.choices(level=LEVELS)
    async def level(
        self,
        interaction: AnyInteraction,
        level: app_commands.Choice[str],
        page: app_commands.Range[int, 1, PAGE_MAX] | None = None,
    ) -> None:
        await self.responder.command(interaction, ShowLevel(Level(level.value), page))

    @app_commands.command(
        name="project", description="A project card: summary, concepts, paths, report"
    )
    @app_commands.describe(name="a project: type part of its name, a concept or a level")
    async def project(
        self, interaction: AnyInteraction, name: app_commands.Range[str, 1, NAME_MAX]
    ) -> None:
        await self.responder.command(interaction, ShowProject(name))

    @app_commands.command(
        name="report", description="A report's outline: design decisions, takeaways, sections"
    )
    @app_commands.describe(name="a project: type part of its name, a concept or a level")
    async def report(
        self, interaction: AnyInteraction, name: app_commands.Range[str, 1, NAME_MAX]
    ) -> None:
        await self.responder.command(interaction, ShowReport(name))

    @app_commands.command(name="paths", description="The themed learning paths")
    async def paths(self, interaction: AnyInteraction) -> None:
        await self.responder.command(interaction, ListPaths())

    @app_commands.command(name="path", description="A learning path step by step, with your marks")
    @app_commands.describe(name="a learning path")
    async def path(
        self, interaction: AnyInteraction, name: app_commands.Range[str, 1, NAME_MAX]
    ) -> None:
        await self.responder.command(interaction, ShowPath(name))

    @app_commands.command(
        name="follow", description="Follow a learning path: 'next' continues it step by step"
    )
    @app_commands.describe(
        name="a learning path", stop="stop following it instead (your marks stay)"
    )
    async def follow(
        self,
        interaction: AnyInteraction,
        name: app_commands.Range[str, 1, NAME_MAX],
        stop: bool = False,
    ) -> None:
        # One subcommand for both ways keeps /roadmap under Discord's 25 subcommands;
        # as typed text they are 'follow PATH' and 'unfollow PATH'.
        await self.responder.command(interaction, Unfollow(name) if stop else Follow(name))

    @app_commands.command(
        name="search", description="Search names, summaries, concepts, languages and categories"
    )
    @app_commands.describe(text="what to look for, e.g. raft", page="which page of the results")
    async def search(
        self,
        interaction: AnyInteraction,
        text: app_commands.Range[str, 1, SEARCH_MAX],
        page: app_commands.Range[int, 1, PAGE_MAX] | None = None,
    ) -> None:
        await self.responder.command(interaction, Search(text, page))

    @app_commands.command(name="random", description="A random project you have not read yet")
    @app_commands.describe(level="only from this level")
    @app_commands.choices(level=LEVELS)
    async def random(
        self, interaction: AnyInteraction, level: app_commands.Choice[str] | None = None
    ) -> None:
        await self.responder.command(interaction, Random(Level(level.value) if level else None))

    # -- your progress ------------------------------------------------------------------

    @app_commands.command(name="next", description="What you should read next, and why")
    async def next_(self, interaction: AnyInteraction) -> None:
        await self.responder.command(interaction, Next())

    @app_commands.command(name="done", description="Mark a project's report as read")
    @app_commands.describe(name="the project you have read")
    async def done(
        self, interaction: AnyInteraction, name: app_commands.Range[str, 1, NAME_MAX]
    ) -> None:
        await self.responder.command(interaction, Done(name))

    @app_commands.command(name="undo", description="Take back a 'done' mark")
    @app_commands.describe(name="the project to unmark")
    async def undo(
        self, interaction: AnyInteraction, name: app_commands.Range[str, 1, NAME_MAX]
    ) -> None:
        await self.responder.command(interaction, Undo(name))

    @app_commands.command(
        name="progress", description="Progress per level and path, yours or a member's"
    )
    @app_commands.describe(member="whose progress (default: yours)")
    async def progress(
        self, interaction: AnyInteraction, member: discord.Member | discord.User | None = None
    ) -> None:
        if member is None:
            await self.responder.command(interaction, Progress())
            return
        name = member.display_name
        known = {name.casefold(): member.id}
        await self.responder.command(interaction, Progress(name), known)

    @app_commands.command(name="reading", description="Mark a project as being read")
    @app_commands.describe(name="the project you are reading")
    async def reading(
        self, interaction: AnyInteraction, name: app_commands.Range[str, 1, NAME_MAX]
    ) -> None:
        await self.responder.command(interaction, Reading(name))

    @app_commands.command(name="pass", description="Skip a project for yourself only")
    @app_commands.describe(name="the project you want to skip")
    async def pass_(
        self, interaction: AnyInteraction, name: app_commands.Range[str, 1, NAME_MAX]
    ) -> None:
        await self.responder.command(interaction, Pass(name))

    # -- study groups: this channel's weekly digest ------------------------------------

    @app_commands.command(
        name="subscribe", description="Give this channel a weekly digest along a path or a level"
    )
    @app_commands.rename(at="time", zone="timezone")
    @app_commands.describe(
        target="a learning path, or beginner / intermediate / advanced",
        weekday="the day of the weekly post (default: Monday)",
        at="the local time of the post as HH:MM (default: 09:00)",
        zone="an IANA time zone, e.g. Europe/Berlin (default: the bot's, UTC unless set)",
    )
    @app_commands.choices(weekday=WEEKDAY_CHOICES)
    async def subscribe(
        self,
        interaction: AnyInteraction,
        target: app_commands.Range[str, 1, NAME_MAX],
        weekday: app_commands.Choice[str] | None = None,
        at: app_commands.Range[str, 1, TIME_MAX] | None = None,
        zone: app_commands.Range[str, 1, ZONE_MAX] | None = None,
    ) -> None:
        command = subscribe_command(target, weekday.value if weekday else None, at, zone)
        await self.responder.command(interaction, command)

    @app_commands.command(name="unsubscribe", description="Stop this channel's weekly digest")
    async def unsubscribe(self, interaction: AnyInteraction) -> None:
        await self.responder.command(interaction, Unsubscribe())

    @app_commands.command(
        name="schedule", description="This channel's digest: next posts, position, problems"
    )
    async def schedule(self, interaction: AnyInteraction) -> None:
        await self.responder.command(interaction, ShowSchedule())

    @app_commands.command(name="skip", description="Skip the channel's upcoming pick")
    async def skip(self, interaction: AnyInteraction) -> None:
        await self.responder.command(interaction, SkipPick())

    @app_commands.command(name="pause", description="Pause this channel's digest until a date")
    @app_commands.describe(until="the date digests start again, as YYYY-MM-DD")
    async def pause(
        self, interaction: AnyInteraction, until: app_commands.Range[str, 1, DATE_MAX]
    ) -> None:
        await self.responder.command(interaction, pause_command(until))

    @app_commands.command(name="resume", description="Resume a paused digest")
    async def resume(self, interaction: AnyInteraction) -> None:
        await self.responder.command(interaction, Resume())

    @app_commands.command(name="digest", description="Preview the channel's next digest (only you)")
    async def digest(self, interaction: AnyInteraction) -> None:
        await self.responder.command(interaction, PreviewDigest())

    @app_commands.command(
        name="group", description="Each member against the study group's steps, and streaks"
    )
    @app_commands.describe(page="which page of members (10 a page)")
    async def group(
        self, interaction: AnyInteraction, page: app_commands.Range[int, 1, 100] | None = None
    ) -> None:
        await self.responder.command(interaction, ShowGroup(page))

    @app_commands.command(
        name="dashboard", description="The study-group page's private link (only you see it)"
    )
    @app_commands.describe(reset="replace the link; the old one stops working")
    async def dashboard(self, interaction: AnyInteraction, reset: bool = False) -> None:
        await self.responder.command(interaction, Dashboard(reset))

    # -- autocomplete -------------------------------------------------------------------

    @help_.autocomplete("topic")
    async def _topics(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        # The core's language holds every registered command: help never lags behind.
        typed = current.casefold().strip()
        words = [u.word for u in self.responder.roadmap.language.usages]
        found = [w for w in words if w.startswith(typed)] or [w for w in words if typed in w]
        return [app_commands.Choice(name=w, value=w) for w in found[:25]]

    @project.autocomplete("name")
    async def _project_names(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(self.completer.projects(current))

    @report.autocomplete("name")
    @reading.autocomplete("name")
    @pass_.autocomplete("name")
    async def _any_project(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(self.completer.projects(current))

    @subscribe.autocomplete("target")
    async def _targets(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(self.completer.targets(current))

    @subscribe.autocomplete("zone")
    async def _zones(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(zones(current))

    @path.autocomplete("name")
    @follow.autocomplete("name")
    async def _path_names(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        return _choices(self.completer.paths(current))

    @done.autocomplete("name")
    async def _done_names(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        marks = await self._marks(interaction)
        unread = {p.slug for p in self.completer.catalog.projects if p.slug not in marks}
        return _choices(self.completer.projects(current, prefer=unread))

    @undo.autocomplete("name")
    async def _undo_names(
        self, interaction: AnyInteraction, current: str
    ) -> list[app_commands.Choice[str]]:
        marks = await self._marks(interaction)
        return _choices(self.completer.marked_projects(current, marks))

    async def _marks(self, interaction: AnyInteraction) -> set[str]:
        # Marks only order the choices: without the database, still offer every project.
        try:
            return set(await self.responder.roadmap.store.progress(user_id(interaction)))
        except Exception:
            log.exception("reading marks for autocomplete failed")
            return set()
