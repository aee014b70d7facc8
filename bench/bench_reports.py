"""Report outlines (issue 6): parse time, the card's cost, and warming the cache.

- parse time per report at the real reports' sizes (10-40 KB): target p95 <= 5 ms;
- project cards per second with the reports feature wired and its cache warm, next to
  the same core without it: target still >= 5,000/s (issue 2), one core;
- `reports refresh` of the 100-project catalog from a host on 127.0.0.1 at concurrency
  8: the first pass (200s) and the second (all 304): target <= 5 s each.

Run: .venv/bin/python bench/bench_reports.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.clock import SystemClock
from roadmap_bot.learning.catalog import load_catalog
from roadmap_bot.reports import command
from roadmap_bot.reports.outline import parse_report
from roadmap_bot.reports.service import Reports
from roadmap_bot.store.reports import ReportCache
from roadmap_bot.store.sql import SqlStore

FIXTURE = Path(__file__).parent.parent / "tests" / "reports" / "fixtures" / "tidepool.md"
PROSE = (
    "This paragraph is filler written for the benchmark, so that each section carries "
    "about as much text as a real report does, with `code`, **emphasis** and a "
    "[link](https://example.org) now and then.\n\n"
)


def synthetic_report(kilobytes: int) -> str:
    """The fixture grown to ``kilobytes`` with filler prose and eight decisions."""
    text = FIXTURE.read_text(encoding="utf-8")
    extra = "".join(f"### {n}. Filler Decision Number {n}\n\n{PROSE}" for n in range(4, 9))
    text = text.replace("## Dependencies", extra + "## Dependencies")
    sections = ["## Core Components", "## Data Flow", "## Testing Strategy", "## Dependencies"]
    while len(text.encode()) < kilobytes * 1024:
        for heading in sections:
            text = text.replace(heading, heading + "\n\n" + PROSE, 1)
    return text


def parse_times(text: str, rounds: int = 400) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        parse_report(text)
        times.append((time.perf_counter() - start) * 1000)
    return times


async def cards_per_second(roadmap: Roadmap, rounds: int = 3000) -> float:
    asker = Asker(id="console:bench", name="bench")
    for _ in range(50):
        render_text(await roadmap.ask("project kafka", asker))
    start = time.perf_counter()
    for _ in range(rounds):
        render_text(await roadmap.ask("project kafka", asker))
    return rounds / (time.perf_counter() - start)


async def main() -> None:
    print("parse time per report (ms):")
    for size in (10, 25, 40):
        text = synthetic_report(size)
        times = sorted(parse_times(text))
        p95 = times[int(len(times) * 0.95)]
        print(
            f"  {len(text.encode()) / 1024:5.1f} KB: median {statistics.median(times):.2f}, "
            f"p95 {p95:.2f}"
        )

    catalog = load_catalog()
    body = synthetic_report(30).encode()
    app = web.Application()

    async def serve(request: web.Request) -> web.StreamResponse:
        etag = '"bench"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag}, content_type="text/plain")

    app.router.add_get("/oss/{name}.md", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    with tempfile.TemporaryDirectory() as folder:
        store = await SqlStore.open(Path(folder) / "bench.db")
        async with aiohttp.ClientSession() as http:
            reports = Reports(
                ReportCache(store),
                SystemClock(),
                lambda: http,
                f"http://127.0.0.1:{port}/oss/{{name}}.md",
            )
            slugs = [p.slug for p in catalog.projects]
            for label in ("first pass (200)", "second pass (304)"):
                start = time.perf_counter()
                summary = await reports.refresh_all(slugs, concurrency=8)
                took = time.perf_counter() - start
                print(f"refresh {len(slugs)} reports, {label}: {took:.2f} s ({summary.line()})")

            bare = Roadmap(catalog, store, SystemClock())
            wired = Roadmap(catalog, store, SystemClock())
            command.install(wired, reports)
            print(f"project cards/s without reports: {await cards_per_second(bare):,.0f}")
            print(
                f"project cards/s with reports (warm cache): {await cards_per_second(wired):,.0f}"
            )
            await reports.aclose()
        await store.close()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
