"""Slack fixtures: the real core and Bolt app, served on 127.0.0.1, talking to a fake Slack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from fakes.slack_api import FakeSlack
from fakes.slack_driver import SlackDriver, make_settings
from fakes.slack_requests import APP_TOKEN, BOT_TOKEN
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.slack.api import retry_handlers, web_client
from roadmap_bot.adapters.slack.app import SlackAdapter
from roadmap_bot.adapters.slack.poster import SlackPoster
from roadmap_bot.adapters.slack.server import serving
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import Settings
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.group_view import GroupView
from roadmap_bot.groups.page_links import PageLinks
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.reports import command as report_command
from roadmap_bot.reports.service import Reports
from roadmap_bot.store.groups import GroupStore
from roadmap_bot.store.reports import ReportCache
from roadmap_bot.store.sql import SqlStore


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(tokens={BOT_TOKEN, APP_TOKEN}) as fake:
        fake.users["U1"] = {"id": "U1", "name": "alice", "tz": "Europe/Berlin", "is_admin": False}
        fake.users["U2"] = {"id": "U2", "name": "bob", "tz": "America/New_York"}
        fake.users["UADMIN"] = {"id": "UADMIN", "name": "ada", "tz": "UTC", "is_admin": True}
        yield fake


@pytest.fixture
def slack_settings(fake_slack: FakeSlack, tmp_path: Path) -> Settings:
    return make_settings(fake_slack, tmp_path)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def groups(roadmap: Roadmap, store: SqlStore, clock: FixedClock) -> StudyGroups:
    """Study-group commands on the core, as the app wires them (digests are not posted)."""
    deliverer = Deliverer(roadmap.catalog, store, clock, {}, catchup=timedelta(hours=24))
    groups = StudyGroups(roadmap, deliverer, default_zone="UTC")
    links = PageLinks(GroupStore(store), clock, "https://bot.example.org")
    deliverer.news = GroupView(roadmap, groups, links).news
    return groups


REPORT = (Path(__file__).parents[1] / "reports" / "fixtures" / "tidepool.md").read_text("utf-8")


@pytest.fixture
async def with_reports(
    roadmap: Roadmap, store: SqlStore, clock: FixedClock
) -> AsyncIterator[Roadmap]:
    """The core with the reports feature, every report served (the same invented one) locally."""

    async def report(request: web.Request) -> web.Response:
        return web.Response(text=REPORT)

    application = web.Application()
    application.router.add_get("/oss/{name}.md", report)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/oss/{{name}}.md"
    async with aiohttp.ClientSession() as http:
        reports = Reports(ReportCache(store), clock, lambda: http, url)
        report_command.install(roadmap, reports)
        yield roadmap
        await reports.aclose()
    await runner.cleanup()


@pytest.fixture
async def adapter(
    roadmap: Roadmap, groups: StudyGroups, slack_settings: Settings, sleeps: Sleeps
) -> AsyncIterator[SlackAdapter]:
    handlers = retry_handlers(sleep=sleeps)
    async with SlackAdapter(roadmap, slack_settings, handlers=handlers) as slack:
        yield slack


@pytest.fixture
async def slack(
    adapter: SlackAdapter, slack_settings: Settings, fake_slack: FakeSlack
) -> AsyncIterator[SlackDriver]:
    async with (
        serving(adapter, slack_settings, host="127.0.0.1", port=0) as (host, port),
        aiohttp.ClientSession() as http,
    ):
        yield SlackDriver(http, f"http://{host}:{port}", adapter, fake_slack)


# The deliverer of Slack digest tests: the fake Slack's clock follows the test's clock, and
# backoff sleeps are recorded, never slept.
@pytest.fixture
def waits() -> Sleeps:
    return Sleeps()


@pytest.fixture
def deliverer(
    roadmap: Roadmap,
    store: SqlStore,
    clock: FixedClock,
    slack_settings: Settings,
    fake_slack: FakeSlack,
    waits: Sleeps,
) -> Deliverer:
    fake_slack.now = lambda: clock.now().timestamp()
    poster = SlackPoster(web_client(slack_settings, handlers=[]))
    return Deliverer(
        roadmap.catalog, store, clock, {"slack": poster}, catchup=timedelta(hours=24), sleep=waits
    )
