"""One week's digests to 2,000 Slack channels (issue 5 target: <= 15 s, no duplicate, no loss).

The fake Slack runs in its own process and behaves like a busy Slack: every Web API call
takes 20 ms, chat.postMessage allows one message per second per channel (a second one
within the second gets a 429 with Retry-After), and 2% of calls get a 429 anyway. The
real deliverer posts every digest (and its discussion thread) through slack_sdk, then
runs again to show nothing is posted twice. At the end the fake's own record is counted:
top-level digests and thread replies per channel.

Run: .venv/bin/python bench/bench_slack_digests.py [--channels N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fakes.slack_api import FakeSlack  # noqa: E402
from fakes.slack_requests import BOT_TOKEN, SIGNING_SECRET  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 09:00 UTC, every channel's slot
LATENCY = 0.020
RATE_LIMITED = 0.02


async def serve_fake() -> None:
    """The fake Slack's process: serve until stdin closes, then print what it holds."""
    async with FakeSlack() as fake:
        fake.latency["*"] = LATENCY
        fake.per_channel["chat.postMessage"] = 1.0
        fake.rate_limit("chat.postMessage", ratio=RATE_LIMITED, retry_after=1.0)
        fake.now = lambda: DUE.timestamp()
        print(json.dumps({"api": fake.api_url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        counts = {
            channel: [
                sum(1 for m in messages if "thread_ts" not in m),
                sum(1 for m in messages if "thread_ts" in m),
            ]
            for channel, messages in fake.messages.items()
        }
        limited = sum(1 for c in fake.calls if c.status == 429)
        calls = len(fake.calls)
        cpu = time.process_time()  # the fake's own CPU seconds, for benchmarks that split it out
        report = {"counts": counts, "calls": calls, "rate_limited": limited, "cpu": cpu}
        print(json.dumps(report), flush=True)


@asynccontextmanager
async def fake_process() -> AsyncIterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--fake"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    line = await asyncio.get_running_loop().run_in_executor(None, process.stdout.readline)
    try:
        yield json.loads(line)["api"], process
    finally:
        if process.poll() is None:
            process.kill()


async def bench(channels: int) -> None:
    from roadmap_bot.adapters.slack.poster import slack_poster
    from roadmap_bot.clock import FixedClock
    from roadmap_bot.config import load_settings
    from roadmap_bot.groups.delivery import Deliverer
    from roadmap_bot.groups.schedule import Schedule
    from roadmap_bot.learning.catalog import load_catalog
    from roadmap_bot.store.digests import DigestStore
    from roadmap_bot.store.sql import SqlStore

    catalog = load_catalog()
    async with fake_process() as (api_url, process):
        folder = tempfile.mkdtemp()
        settings = load_settings(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=api_url,
            ROADMAP_DB=str(Path(folder) / "digests.db"),
        )
        store = await SqlStore.open(settings.db)
        digests = DigestStore(store)
        monday_nine = Schedule(0, datetime(2000, 1, 1, 9, 0).time(), "UTC")
        targets = [f"path:{p.slug}" for p in catalog.paths] + ["level:beginner"]
        for i in range(channels):
            await digests.subscribe(
                f"slack:T1:C{i:05d}", targets[i % len(targets)], monday_nine, "slack:T1:U1", NOW
            )
        async with slack_poster(settings) as poster:
            deliverer = Deliverer(
                catalog, store, FixedClock(DUE), {"slack": poster}, catchup=timedelta(hours=24)
            )
            started = time.perf_counter()
            first = await deliverer.run_due(DUE)
            took = time.perf_counter() - started
            again = await deliverer.run_due(DUE + timedelta(minutes=5))
        await store.close()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        report: dict[str, Any] = json.loads(
            await asyncio.get_running_loop().run_in_executor(None, process.stdout.readline)
        )

    counts = report["counts"]
    expected = {f"C{i:05d}" for i in range(channels)}
    duplicates = sum(1 for c in expected if counts.get(c, [0, 0])[0] > 1)
    lost = sum(1 for c in expected if counts.get(c, [0, 0])[0] == 0)
    threads = sum(1 for c in expected if counts.get(c, [0, 0])[1] == 1)
    verdict = "ok" if took <= 15 and duplicates == 0 and lost == 0 else "MISSED TARGET"
    print(
        f"{channels} channels, {LATENCY * 1000:.0f} ms per call, 1 msg/s per channel, "
        f"{RATE_LIMITED:.0%} random 429s"
    )
    print(f"first run:  {first.line()} in {took:.2f} s (target <= 15 s)")
    print(f"second run: {again.line()}")
    print(
        f"Slack saw {report['calls']} calls, {report['rate_limited']} answered 429; "
        f"digests posted once: {channels - duplicates - lost}, duplicates: {duplicates}, "
        f"lost: {lost}; discussion threads: {threads}  {verdict}"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--fake":
        asyncio.run(serve_fake())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2000)
    os.environ.setdefault("ROADMAP_LOG_LEVEL", "WARNING")
    asyncio.run(bench(parser.parse_args().channels))


if __name__ == "__main__":
    main()
