"""The study-group page in a real browser: Debian's chromium driven by Playwright.

The page is served by the same aiohttp code `serve` runs, on 127.0.0.1; every request
the browser makes elsewhere is intercepted (a report link is answered by a stub), and
the browser resolves no other name, so nothing leaves this machine. Without chromium
(or Playwright) the tests skip with the reason; under CI=true that is a failure.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from roadmap_bot.app import App, open_app
from roadmap_bot.chat.core import Asker
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import load_settings
from roadmap_bot.web.pages import add_page_routes
from roadmap_bot.web.server import serving_application

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
    # no name but ours resolves: a request that slipped past interception goes nowhere
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
SCREENSHOTS = (
    Path(os.environ.get("ROADMAP_SCREENSHOTS", ""))
    if os.environ.get("ROADMAP_SCREENSHOTS")
    else None
)
SCRIPT_NAME = "<script>window.pwned=1</script>"
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _need_browser() -> Any:
    """Playwright's async API, or skip (fail under CI=true) saying what is missing."""
    missing = None
    try:
        from playwright import async_api
    except ImportError:  # pragma: no cover - the dev extras install it
        missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)
    return async_api


def person(name: str) -> Asker:
    return Asker(id=f"console:{name}", name=name, channel="console:study")


@dataclass
class Group:
    app: App
    base: str
    url: str
    clock: FixedClock


@pytest.fixture
async def group(tmp_path: Path) -> AsyncIterator[Group]:
    """An observability study group in its third week, served on 127.0.0.1."""
    clock = FixedClock(MONDAY - timedelta(days=3))
    settings = load_settings(
        _env_file=None,
        ROADMAP_DB=str(tmp_path / "page.db"),
        ROADMAP_WEB_URL="https://bot.example.org",
        ROADMAP_REPORT_URL="http://127.0.0.1:9/{name}.md",  # no report server: none fetched
    )
    async with open_app(settings, clock=clock, console_out=io.StringIO()) as app:
        ask = app.roadmap.ask
        assert (await ask("subscribe observability-stack tz Europe/Berlin", person("lead"))).ok
        for week in range(3):  # Prometheus, Grafana, then Loki this week
            clock.set(MONDAY + timedelta(days=7 * week))
            await app.deliverer.run_due()
            clock.advance(timedelta(hours=3))
            if week < 2:
                slug = ("prometheus", "grafana")[week]
                await ask(f"done {slug}", person("ann"))
                await ask(f"reading {slug}", person(SCRIPT_NAME))
        await ask("reading loki", person("ann"))
        await ask("pass prometheus", person("bob"))
        application = web.Application()
        add_page_routes(application, app.group_view)
        async with serving_application(application, "127.0.0.1", 0) as (host, port):
            base = f"http://{host}:{port}"
            link = await app.group_view.links.url("console:study")
            yield Group(app, base, base + link.removeprefix("https://bot.example.org"), clock)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    api = _need_browser()
    async with api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield launched
        await launched.close()


async def open_context(browser: Any, base: str, **options: Any) -> tuple[Any, list[Any]]:
    """A browser context whose requests off 127.0.0.1 are answered by a stub, recorded."""
    context = await browser.new_context(**options)
    outside: list[Any] = []

    async def route(route: Any) -> None:
        if route.request.url.startswith(base):
            await route.continue_()
            return
        outside.append(route.request)
        await route.fulfill(status=200, content_type="text/html", body="<h1>Report (stub)</h1>")

    await context.route("**/*", route)
    return context, outside


async def rows(page: Any) -> dict[str, list[str]]:
    """Member -> pace, streak, then what a screen reader says for each step's cell."""
    found: dict[str, list[str]] = await page.eval_on_selector_all(
        "tbody tr",
        """rows => Object.fromEntries(rows.map(r => [
            r.querySelector('th').textContent,
            [...r.querySelectorAll('td')].map(td => (td.querySelector('.sr') || td).textContent)
        ]))""",
    )
    return found


async def test_the_page_shows_the_map_the_members_and_the_schedule(
    group: Group, browser: Any, tmp_path: Path
) -> None:
    context, outside = await open_context(
        browser, group.base, viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    response = await page.goto(group.url)
    assert response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "private, no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]

    await page.get_by_role("heading", name="Study group: Observability Stack").wait_for()
    steps = await page.eval_on_selector_all(
        "ol.steps li",
        "items => items.map(li => li.querySelector('.state').textContent + ' ' + "
        "li.querySelector('a').textContent)",
    )
    assert steps == [
        "Covered Prometheus",
        "Covered Grafana",
        "This week Grafana Loki",
        "Upcoming OpenTelemetry Collector",
        "Upcoming Thanos",
    ]
    assert "Map of 5 steps: 2 covered, 0 skipped, 1 this week, 2 upcoming" in (
        await page.locator("svg title").first.text_content()
    )
    members = await rows(page)
    assert members["ann"] == ["on pace", "3 weeks", "done", "done", "reading", "not yet", "not yet"]
    assert members["bob"][:4] == ["behind by 1", "no streak", "passed", "not yet"]
    assert members[SCRIPT_NAME][:2] == ["behind by 2", "2 weeks"]
    headers = await page.locator("thead th").all_inner_texts()
    assert headers == ["Member", "Pace", "Streak", "1", "2", "3", "4", "5"]
    posts = await page.locator("section[aria-labelledby=posts-heading] li").all_inner_texts()
    assert len(posts) == 4 and all("CET (UTC+01:00)" in p for p in posts)
    assert posts[0].startswith("Mon 21 Dec 2026, 09:00")
    deliveries = await page.locator(
        "section[aria-labelledby=deliveries-heading] li"
    ).all_inner_texts()
    assert deliveries[0].endswith("Grafana Loki, posted")
    await page.screenshot(path=str(_shot(tmp_path, "group-page-desktop.png")), full_page=True)
    assert outside == []  # the page loads nothing from elsewhere
    await context.close()


async def test_on_a_phone_the_page_fits_and_the_table_scrolls_in_its_box(
    group: Group, browser: Any, tmp_path: Path
) -> None:
    context, _ = await open_context(
        browser,
        group.base,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        java_script_enabled=False,  # nothing on the page needs it
    )
    page = await context.new_page()
    await page.goto(group.url)
    await page.get_by_role("table").wait_for()
    # The page itself never scrolls sideways (only the table, in its own box): nothing
    # is laid out past the phone's 390 pixels.
    wide = await page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > 391)
            .map(e => e.tagName + '.' + e.className + ': ' + e.textContent.slice(0, 40))"""
    )
    assert wide == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert await page.get_by_role("row", name="ann").count() == 1
    await page.screenshot(path=str(_shot(tmp_path, "group-page-phone.png")), full_page=True)
    await context.close()


async def test_a_report_link_opens_the_report_without_a_referrer(
    group: Group, browser: Any
) -> None:
    context, outside = await open_context(browser, group.base)
    page = await context.new_page()
    await page.goto(group.url)
    report = group.app.catalog.project("loki").report_url
    await page.get_by_role("link", name="Grafana Loki").click()
    await page.wait_for_url(report)
    assert page.url == report
    opened = [r for r in outside if r.resource_type == "document"]  # not e.g. a favicon
    assert [r.url for r in opened] == [report]
    assert "referer" not in await opened[0].all_headers()  # the private link stays private
    await context.close()


async def test_a_member_called_script_is_text_and_runs_nothing(group: Group, browser: Any) -> None:
    context, _ = await open_context(browser, group.base)
    page = await context.new_page()
    await page.goto(group.url)
    header = page.get_by_role("rowheader", name=SCRIPT_NAME)
    assert await header.text_content() == SCRIPT_NAME  # shown as typed
    assert await page.evaluate("typeof window.pwned") == "undefined"
    assert await page.locator("script").count() == 0
    await context.close()


async def test_wrong_and_revoked_links_get_404_and_the_new_link_works(
    group: Group, browser: Any
) -> None:
    context, _ = await open_context(browser, group.base)
    page = await context.new_page()
    token = group.url.rsplit("/", 1)[1]
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    for url in (f"{group.base}/groups/{wrong}", f"{group.base}/groups/", f"{group.base}/groups"):
        response = await page.goto(url)
        assert response.status == 404, url
    reset = await group.app.roadmap.ask("dashboard reset", person("lead"))
    new_url = group.base + reset.links[0].url.removeprefix("https://bot.example.org")
    assert (await page.goto(group.url)).status == 404  # the old link is revoked
    assert "does not open a study-group page" in await page.inner_text("body")
    assert (await page.goto(new_url)).status == 200
    await context.close()


def _shot(tmp_path: Path, name: str) -> Path:
    folder = SCREENSHOTS or tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
