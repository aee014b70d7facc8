"""The composition root: settings -> catalog, store, clock, core and features, wired once.

Adapters and CLI commands receive an :class:`App`; nothing reaches for a global.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, TextIO

from roadmap_bot import __version__
from roadmap_bot.adapters.console import ConsolePoster
from roadmap_bot.adapters.supervisor import AdapterStates
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import Clock, SystemClock
from roadmap_bot.config import Settings
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.digest import ReadingAgenda
from roadmap_bot.groups.group_view import GroupView
from roadmap_bot.groups.page_links import PageLinks
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.learning.catalog import Catalog, load_catalog
from roadmap_bot.reports import command as report_command
from roadmap_bot.reports.service import Reports
from roadmap_bot.store.groups import GroupStore
from roadmap_bot.store.reports import ReportCache
from roadmap_bot.store.sql import SqlStore

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    catalog: Catalog
    store: SqlStore
    clock: Clock
    roadmap: Roadmap
    deliverer: Deliverer
    study_groups: StudyGroups
    reports: Reports
    group_view: GroupView
    # What each platform adapter is doing under `serve` (for /healthz).
    adapters: AdapterStates = field(default_factory=AdapterStates)


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
    console_out: TextIO | None = None,
) -> AsyncIterator[App]:
    """Load the catalog, open the store and build the core; close it all on exit."""
    catalog = catalog or load_catalog(settings.catalog)
    store = await SqlStore.open(settings.database)
    http = SharedHttp()
    reports: Reports | None = None
    try:
        clock = clock or SystemClock()
        roadmap = Roadmap(catalog, store, clock)
        reports = Reports(ReportCache(store), clock, http.session, settings.report_url)
        report_command.install(roadmap, reports)
        deliverer = Deliverer(
            catalog,
            store,
            clock,
            {"console": ConsolePoster(console_out)},
            catchup=timedelta(hours=settings.catchup_hours),
            lease=timedelta(seconds=settings.lease_seconds),
            agenda=reading_agenda(reports),
        )
        groups = StudyGroups(roadmap, deliverer, settings.default_timezone)
        secret = settings.web_secret.get_secret_value() if settings.web_secret else None
        links = PageLinks(GroupStore(store), clock, settings.public_web_url, secret)
        group_view = GroupView(roadmap, groups, links)
        deliverer.news = group_view.news
        yield App(settings, catalog, store, clock, roadmap, deliverer, groups, reports, group_view)
    finally:
        if reports is not None:
            await reports.aclose()
        await http.close()
        await store.close()


class SharedHttp:
    """The process's one HTTP session (one connection pool), opened on first use:
    importing aiohttp costs about 0.2 s that one-shot commands fetching nothing need not pay."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                headers={"User-Agent": f"roadmap-bot/{__version__}"}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def reading_agenda(reports: Reports) -> Callable[[str, float], Awaitable[ReadingAgenda | None]]:
    """The digests' view of a report: its decision headings and takeaway lead phrases."""

    async def agenda(slug: str, timeout: float) -> ReadingAgenda | None:
        outline = await reports.agenda(slug, timeout=timeout)
        if outline is None:
            return None
        return ReadingAgenda(
            decisions=outline.decision_titles,
            takeaways=outline.takeaways,
            anchors=tuple(d.anchor for d in outline.decisions),
        )

    return agenda


@asynccontextmanager
async def platform_posters(app: App, *, patient: bool = False) -> AsyncIterator[None]:
    """Register the configured platforms' digest posters on the deliverer while open.
    ``patient`` (``serve``): a platform that does not answer yet is no reason to stop."""
    # Platform libraries are imported only when that platform is configured.
    opened: list[str] = []
    async with AsyncExitStack() as stack:
        try:
            if app.settings.slack_configured:
                from roadmap_bot.adapters.slack.poster import slack_poster

                slack = await stack.enter_async_context(slack_poster(app.settings))
                app.deliverer.posters[slack.platform] = slack
                opened.append(slack.platform)
            if app.settings.discord_configured:
                from roadmap_bot.adapters.discord import discord_poster

                poster = await stack.enter_async_context(
                    discord_poster(app.settings, patient=patient)
                )
                app.deliverer.posters[poster.platform] = poster
                opened.append(poster.platform)
            yield
        finally:
            for platform in opened:  # closed posters must not be used
                del app.deliverer.posters[platform]
