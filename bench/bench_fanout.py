"""Digest fan-out in one process at 500 / 2,000 / 8,000 / 16,000 channels (issue 13 target
at 16,000: <= 15 s, peak <= 150 MiB, memory flat in the channel count).

Each size runs in a fresh child process (so its peak resident memory is its own): one
week's digests, with their discussion threads, to every channel through the fake Slack
of bench_slack_digests.py (its own process: 20 ms per call, one message per second per
channel, 2% random 429s). The child prints, for the first run:

- wall time and the child's CPU time (user + system),
- peak resident memory (VmHWM) and what the process held before the run began,
  so growth with the channel count is visible,
- time spent in garbage collections (gc.callbacks), all and full ones (generation 2),
- what the fake saw: each channel posted once, no duplicate, no loss, and the fake's own
  CPU time (it shares the machine's cores with the deliverer).

Before the run the child settles its garbage collector as ``serve`` and ``digest
run-due`` do once started (``pauses.settle_after_start``: one collection, start-up
objects frozen, young collections every 10,000 allocations); ``--gc-defaults`` leaves
CPython's defaults, for comparison.

Run: .venv/bin/python bench/bench_fanout.py [--sizes 500,2000,8000,16000] [--gc-defaults]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import bench_slack_digests  # noqa: E402
from fakes.slack_requests import BOT_TOKEN, SIGNING_SECRET  # noqa: E402

SIZES = (500, 2000, 8000, 16000)
NOW = bench_slack_digests.NOW
DUE = bench_slack_digests.DUE
TARGET_SECONDS = 15.0
TARGET_MIB = 150.0
MIB = 1024 * 1024


class GcTimer:
    """CPU time spent in garbage collections, from gc.callbacks (the thread's CPU time: on
    a shared machine the clock would also count other processes' turns)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.full = 0.0
        self.collections = [0, 0, 0]
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.thread_time()
            return
        took = time.thread_time() - self._began
        self.total += took
        self.collections[info["generation"]] += 1
        if info["generation"] == 2:
            self.full += took


def rss_mib() -> float:
    """The resident memory now (Linux: /proc/self/statm)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB


def peak_mib() -> float:
    """This process's peak resident memory (Linux: VmHWM in /proc/self/status). Not
    ``ru_maxrss``: Linux carries it over exec from the parent, so a child started by a
    big parent (bench_targets after its 100,000-subscription rows) reported the parent's
    peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: KiB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def subscribe_all(store: Any, channels: int, targets: list[str]) -> None:
    """Every channel subscribed to Monday 09:00 UTC, written in a few transactions."""
    from roadmap_bot.groups.schedule import Schedule
    from roadmap_bot.store.schema import subscriptions

    monday_nine = Schedule(0, datetime(2000, 1, 1, 9, 0).time(), "UTC")
    first_due = monday_nine.next_after(NOW)[1]
    rows = [
        {
            "channel": f"slack:T1:C{i:05d}",
            "target": targets[i % len(targets)],
            "weekday": monday_nine.weekday,
            "at_time": "09:00",
            "timezone": monday_nine.zone,
            "created_by": "slack:T1:U1",
            "created_at": NOW,
            "next_due_at": first_due,
        }
        for i in range(channels)
    ]
    for start in range(0, len(rows), 2000):
        async with store.write() as conn:
            await conn.execute(subscriptions.insert(), rows[start : start + 2000])


async def one_size(channels: int, settle: bool = True) -> dict[str, Any]:
    """The child: one fan-out of ``channels`` digests, measured."""
    from roadmap_bot.adapters.slack.poster import slack_poster
    from roadmap_bot.clock import FixedClock
    from roadmap_bot.config import load_settings
    from roadmap_bot.groups.delivery import Deliverer
    from roadmap_bot.learning.catalog import load_catalog
    from roadmap_bot.store.sql import SqlStore

    catalog = load_catalog()
    async with bench_slack_digests.fake_process() as (api_url, process):
        with tempfile.TemporaryDirectory() as folder:
            settings = load_settings(
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=api_url,
                ROADMAP_DB=str(Path(folder) / "fanout.db"),
            )
            store = await SqlStore.open(settings.db)
            targets = [f"path:{p.slug}" for p in catalog.paths] + ["level:beginner"]
            await subscribe_all(store, channels, targets)
            async with slack_poster(settings) as poster:
                deliverer = Deliverer(
                    catalog, store, FixedClock(DUE), {"slack": poster}, catchup=timedelta(hours=24)
                )
                if settle:
                    from roadmap_bot.pauses import settle_after_start

                    settle_after_start()
                else:
                    gc.collect()
                before = rss_mib()
                timer = GcTimer()
                gc.callbacks.append(timer)
                cpu = cpu_seconds()
                started = time.perf_counter()
                summary = await deliverer.run_due(DUE)
                wall = time.perf_counter() - started
                cpu = cpu_seconds() - cpu
                gc.callbacks.remove(timer)
                peak = peak_mib()
            await store.close()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        report: dict[str, Any] = json.loads(
            await asyncio.get_running_loop().run_in_executor(None, process.stdout.readline)
        )
    counts = report["counts"]
    expected = [f"C{i:05d}" for i in range(channels)]
    return {
        "channels": channels,
        "wall": wall,
        "cpu": cpu,
        "peak": peak,
        "before": before,
        "gc": timer.total,
        "gc_full": timer.full,
        "collections": timer.collections,
        "summary": summary.line(),
        "once": sum(1 for c in expected if counts.get(c, [0, 0])[0] == 1),
        "duplicates": sum(1 for c in expected if counts.get(c, [0, 0])[0] > 1),
        "lost": sum(1 for c in expected if counts.get(c, [0, 0])[0] == 0),
        "threads": sum(1 for c in expected if counts.get(c, [0, 0])[1] == 1),
        "fake_cpu": report["cpu"],
    }


def run_child(channels: int, settle: bool = True) -> dict[str, Any]:
    env = dict(os.environ, ROADMAP_LOG_LEVEL="WARNING")
    gc_mode = [] if settle else ["--gc-defaults"]
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(channels), *gc_mode],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        os.environ.setdefault("ROADMAP_LOG_LEVEL", "WARNING")
        settle = "--gc-defaults" not in sys.argv
        print(json.dumps(asyncio.run(one_size(int(sys.argv[2]), settle))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument(
        "--gc-defaults",
        action="store_true",
        help="keep CPython's collector settings (no freeze after start-up), for comparison",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"one week's digests through the fake Slack ({bench_slack_digests.LATENCY * 1000:.0f} ms "
        f"per call, 1 msg/s per channel, {bench_slack_digests.RATE_LIMITED:.0%} random 429s), "
        "a fresh process per size; "
        + ("CPython's default collector" if args.gc_defaults else "collector settled as serve's")
    )
    print(
        f"{'channels':>8} {'wall s':>7} {'CPU s':>6} {'us CPU/ch':>9} {'peak MiB':>8} "
        f"{'before':>6} {'GC s':>5} {'full GC s':>9} {'GC % CPU':>8} {'fake CPU s':>10}  "
        "posted once / dup / lost"
    )
    results = []
    for channels in sizes:
        r = run_child(channels, not args.gc_defaults)
        results.append(r)
        print(
            f"{channels:>8} {r['wall']:7.2f} {r['cpu']:6.2f} "
            f"{r['cpu'] / channels * 1e6:9.0f} {r['peak']:8.1f} {r['before']:6.1f} "
            f"{r['gc']:5.2f} {r['gc_full']:9.2f} {r['gc'] / r['cpu'] * 100:7.0f}% "
            f"{r['fake_cpu']:10.2f}  "
            f"{r['once']} / {r['duplicates']} / {r['lost']}  ({r['summary']})"
        )
    largest = results[-1]
    smallest = results[0]
    ok = (
        largest["wall"] <= TARGET_SECONDS
        and largest["peak"] <= TARGET_MIB
        and all(r["duplicates"] == 0 and r["lost"] == 0 for r in results)
    )
    growth = largest["peak"] - smallest["peak"]
    print(
        f"{largest['channels']} channels: {largest['wall']:.1f} s (target <= {TARGET_SECONDS:.0f}"
        f" s), peak {largest['peak']:.0f} MiB (target <= {TARGET_MIB:.0f} MiB); peak grows "
        f"{growth:.0f} MiB from {smallest['channels']} to {largest['channels']} channels "
        f"({largest['channels'] / smallest['channels']:.0f}x the channels)  "
        f"{'ok' if ok else 'MISSED TARGET'}"
    )


if __name__ == "__main__":
    main()
