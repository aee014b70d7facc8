"""The group at a glance (issue 12 targets).

- the study-group page for 50 members over the 38-step advanced level, ten weeks in:
  server-side time from token to HTML (look the token up, gather, render), target p95
  <= 20 ms;
- `group` in that channel through the core (parse, handle with a real SQLite store,
  render text): target >= 2,000 commands/s.

Each is quoted beside a reference measured in the same run on the same database:
`schedule` in the same channel (a light study-group command).

Run: .venv/bin/python bench/bench_group.py
"""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from roadmap_bot.app import App, open_app
from roadmap_bot.chat.core import Asker
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import load_settings
from roadmap_bot.groups.digest import plan
from roadmap_bot.store import Status
from roadmap_bot.web.pages import render_page

CHANNEL = "console:bench"
MEMBERS = 50
WEEKS = 10
PAGE_ROUNDS = 300
COMMAND_ROUNDS = 3000
MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def member(i: int) -> Asker:
    return Asker(id=f"console:member{i:02}", name=f"member{i:02}", channel=CHANNEL)


async def build(app: App, clock: FixedClock) -> str:
    """A level-long study group, ten posts in, members at every pace; its page token."""
    rng = random.Random(12)
    assert (await app.roadmap.ask("subscribe advanced", member(0))).ok
    for i in range(MEMBERS):
        await app.roadmap.ask("next", member(i))
    steps = plan(app.catalog, "level:advanced")
    for week in range(WEEKS):
        clock.set(MONDAY + timedelta(days=7 * week))
        await app.deliverer.run_due()
        clock.advance(timedelta(days=rng.choice((1, 3, 6, 8))))
        for i in range(MEMBERS):
            if rng.random() < 0.7:
                status = Status.DONE if rng.random() < 0.8 else Status.READING
                await app.store.set_mark(member(i).id, steps[week], status, clock.now())
            if rng.random() < 0.1:
                await app.store.set_mark(
                    member(i).id, rng.choice(steps[week:]), Status.SKIPPED, clock.now()
                )
    url = await app.group_view.links.url(CHANNEL)
    return url.rsplit("/", 1)[1]


async def page_times(app: App, token: str, *, cold: bool) -> list[float]:
    """Milliseconds from token to HTML, as the request handler does it. ``cold``: the
    group's standing is gathered from the database every time (as after any mark);
    warm: the database did not change since the last view (a wall display reloading)."""
    out = []
    for _ in range(PAGE_ROUNDS):
        if cold:
            forget(app)
        start = time.perf_counter()
        channel = await app.group_view.links.channel_of(token)
        assert channel is not None
        page = await app.group_view.page(channel)
        assert page is not None
        html = render_page(page)
        out.append((time.perf_counter() - start) * 1000)
        assert "member49" in html
    return out


def forget(app: App) -> None:
    """Drop what the group view keeps between database changes (as any mark does)."""
    view = app.group_view
    view._standings.clear()
    view._replies.clear()
    view._subscriptions.clear()


async def rate(app: App, text: str, *, cold: bool = False) -> float:
    """Commands per second, one after another, as member 1 (``cold``: as if the
    database had changed before each one)."""
    who = member(1)
    for _ in range(50):
        render_text(await app.roadmap.ask(text, who))
    start = time.perf_counter()
    for _ in range(COMMAND_ROUNDS):
        if cold:
            forget(app)
        reply = await app.roadmap.ask(text, who)
        render_text(reply)
    assert reply.ok
    return COMMAND_ROUNDS / (time.perf_counter() - start)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        clock = FixedClock(MONDAY - timedelta(days=2))
        settings = load_settings(
            _env_file=None,
            ROADMAP_DB=str(Path(folder) / "bench.db"),
            ROADMAP_REPORT_URL="http://127.0.0.1:9/{name}.md",  # nothing is fetched
        )
        async with open_app(settings, clock=clock, console_out=io.StringIO()) as app:
            token = await build(app, clock)
            times = await page_times(app, token, cold=True)
            warm = await page_times(app, token, cold=False)
            group = await rate(app, "group")
            group_cold = await rate(app, "group", cold=True)
            schedule = await rate(app, "schedule")
    print(
        f"study-group page, {MEMBERS} members x 38 steps, {WEEKS} weeks in ({PAGE_ROUNDS} renders):"
    )
    print(
        f"  gathered from the database each time: p50 {statistics.median(times):.2f} ms, "
        f"p95 {p95(times):.2f} ms (target p95 <= 20 ms: {'OK' if p95(times) <= 20 else 'MISSED'})"
    )
    print(
        f"  database unchanged since the last view: p50 {statistics.median(warm):.2f} ms, "
        f"p95 {p95(warm):.2f} ms"
    )
    print(f"`group` through the core, {MEMBERS} members x 38 steps:")
    print(
        f"  {group:,.0f} commands/s (target >= 2,000: {'OK' if group >= 2000 else 'MISSED'}); "
        f"`schedule` in the same channel: {schedule:,.0f}/s (group takes "
        f"{schedule / group:.1f}x as long)"
    )
    print(
        f"  gathered from the database each time: {group_cold:,.0f} commands/s "
        f"({'OK' if group_cold >= 2000 else 'below 2,000'}; {group_cold / schedule:.1f}x "
        "the rate of `schedule`)"
    )


if __name__ == "__main__":
    asyncio.run(main())
