"""A fake report host on 127.0.0.1 (port 0) and the reports service pointed at it."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from roadmap_bot.chat.core import Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.reports import command
from roadmap_bot.reports.service import Reports
from roadmap_bot.store.reports import ReportCache
from roadmap_bot.store.sql import SqlStore

FIXTURES = Path(__file__).parent / "fixtures"
LAST_MODIFIED = "Thu, 17 Apr 2025 10:00:00 GMT"


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.md").read_text(encoding="utf-8")


@dataclass
class Seen:
    """One request as the host saw it."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int = 0


Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ReportHost:
    """Serves ``/oss/<name>.md`` from ``reports``; goes down, hangs or misbehaves on cue."""

    reports: dict[str, bytes] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)  # slug -> a special answer
    etags: bool = True
    last_modified: bool = True
    mode: str = "up"  # 'up', 'down' (503) or 'hang' (never answers until released)
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/oss/{name}.md"

    def serve(self, slug: str, text: str | bytes) -> None:
        self.reports[slug] = text.encode() if isinstance(text, str) else text

    def requests_for(self, slug: str) -> list[Seen]:
        return [s for s in self.seen if s.path == f"/oss/{slug}.md"]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/oss/{name}.md", self._report)
        app.router.add_get("/loop/{n}", self._loop)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)  # 0 the first time
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Gone: connections to the port are refused until :meth:`start` again."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _report(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(
            request.path,
            request.headers.get("If-None-Match"),
            request.headers.get("If-Modified-Since"),
        )
        self.seen.append(seen)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            response = await self._answer(request)
        finally:
            self.in_flight -= 1
        seen.status = response.status
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if self.mode == "hang":
            await self.release.wait()
        if self.mode == "down":
            return web.Response(status=503, text="upstream is having a bad day")
        slug = request.match_info["name"]
        if slug in self.routes:
            return await self.routes[slug](request)
        body = self.reports.get(slug)
        if body is None:
            return web.Response(status=404, text="404: Not Found")
        headers = {}
        if self.etags:
            headers["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return web.Response(status=304, headers=headers)
        if self.last_modified:
            headers["Last-Modified"] = LAST_MODIFIED
            if not self.etags and request.headers.get("If-Modified-Since") == LAST_MODIFIED:
                return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers, content_type="text/plain", charset="utf-8")

    async def _loop(self, request: web.Request) -> web.StreamResponse:
        """/loop/1 -> /loop/2 -> /loop/1 ...: a redirect loop."""
        following = 2 if request.match_info["n"] == "1" else 1
        raise web.HTTPFound(f"/loop/{following}")


@pytest.fixture
async def host() -> AsyncIterator[ReportHost]:
    host = ReportHost()
    await host.start()
    yield host
    host.release.set()
    await host.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def reports(
    store: SqlStore, clock: FixedClock, http: aiohttp.ClientSession, host: ReportHost
) -> AsyncIterator[Reports]:
    service = make_reports(store, clock, http, host)
    yield service
    await service.aclose()


def make_reports(
    store: SqlStore,
    clock: FixedClock,
    http: aiohttp.ClientSession,
    host: ReportHost,
    **options: float,
) -> Reports:
    """The service on the fake host, with short waits so a hanging host costs little."""
    timeout = aiohttp.ClientTimeout(total=options.pop("timeout", 2.0))
    return Reports(ReportCache(store), clock, lambda: http, host.url, timeout=timeout, **options)  # type: ignore[arg-type]


@pytest.fixture
def wired(roadmap: Roadmap, reports: Reports) -> Roadmap:
    """The core with the reports feature installed, as the app wires it."""
    command.install(roadmap, reports)
    return roadmap


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("roadmap_bot.reports")
    ]


async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Wait (in tiny steps, for I/O between the client and the host) until ``condition``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)
