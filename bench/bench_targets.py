"""Issue 13's table in one run: each row measured today, against its reference, vs its target.

Prints one line per row: ``what | figure | target | ok/MISS``. References are measured in
the same run on the same machine, so the ratios hold while the machine's speed does not:

- Slack slash commands: our app against a bare Bolt app that only acks (configured like
  ours), through bench_slack.py's servers, requests and load generator, in interleaved
  rounds: p50 one at a time; p99, p99.9 and server CPU per command at 16 in flight;
- start-up: ``roadmap-bot ask beginner`` against ``python -c 'import pydantic'``, each run
  N times alternately (hyperfine-like), medians compared; beside them the imports any
  command on the store needs before its first line of work (asyncio, a pydantic model,
  SQLAlchemy's asyncio engine), the floor under that ratio, as a bare script and with
  the collector handled as roadmap-bot's program handles it (pauses.py);
- due selection through bench_due.py's store and timing (SQLite), the work a run does
  before its first digest can start: 100,000 subscriptions at the popular slot (a fifth
  due) and 10,000 all due after a week down, and the longest event-loop block;
- the digest fan-out of 16,000 channels in one process through the fake Slack
  (bench_fanout.py's child: wall, CPU, peak memory; bench_fanout.py prints the growth
  from 500 to 16,000);
- marks read from memory under 45% done/undo traffic (bench_marks.py's counters, SQLite,
  one store).

Run: .venv/bin/python bench/bench_targets.py  [--requests N] [--starts N] [--subscriptions N]
     [--channels N] [--only slack|start|due|fanout|marks ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_due
import bench_fanout
import bench_marks
import bench_slack

ROUNDS = 10
Row = tuple[str, str, str, bool]


def ratio_row(what: str, ours: float, ref: float, unit: str, target: float) -> Row:
    ratio = ours / ref
    places = 2 if unit == "ms" else 0
    figure = f"{ratio:.2f}x ({ours:.{places}f} vs {ref:.{places}f} {unit})"
    return what, figure, f"<= {target}x", ratio <= target


async def slack_rows(requests: int) -> list[Row]:
    """Ours against the bare ack-only app, interleaved rounds on bench_slack's servers."""
    cores = sorted(os.sched_getaffinity(0))
    server_core = cores[0] if len(cores) > 1 else None
    if server_core is not None:
        os.sched_setaffinity(0, set(cores[1:]))  # the load generator keeps off the servers' core
    try:
        async with (
            bench_slack.child("--fake", core=None) as (fake, _),
            bench_slack.child("--serve", fake["url"], core=server_core) as (ports, server),
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=bench_slack.CONCURRENCY)
            ) as http,
        ):
            names = ("ours", "bare")
            urls = {n: f"http://127.0.0.1:{ports[n]}/slack/events" for n in names}
            answers = fake["url"] + "/response"
            for url in urls.values():  # warm up: auth.test, caches, connections
                await bench_slack.load(http, url, bench_slack.bodies(300, answers), 16)
            seq: dict[str, list[float]] = {n: [] for n in names}
            under: dict[str, list[float]] = {n: [] for n in names}
            cpu: dict[str, list[float]] = {n: [] for n in names}
            per_round = max(requests // ROUNDS, 10)
            for round_ in range(ROUNDS):
                for name in names if round_ % 2 == 0 else reversed(names):
                    url = urls[name]
                    seq[name] += (
                        await bench_slack.load(http, url, bench_slack.bodies(per_round, answers), 1)
                    )[0]
                    used = bench_slack.cpu_seconds(server)
                    latencies, _ = await bench_slack.load(
                        http,
                        url,
                        bench_slack.bodies(per_round * 4, answers),
                        bench_slack.CONCURRENCY,
                    )
                    await asyncio.sleep(0.2)  # answers still being sent belong to this app
                    cpu[name].append((bench_slack.cpu_seconds(server) - used) / (per_round * 4))
                    under[name] += latencies
    finally:
        os.sched_setaffinity(0, set(cores))
    pct = bench_slack.pct
    n16 = len(under["ours"])
    return [
        ratio_row(
            "Slack, ours / bare Bolt ack-only, p50, 1 in flight",
            pct(seq["ours"], 0.5),
            pct(seq["bare"], 0.5),
            "ms",
            1.3,
        ),
        ratio_row(
            "Slack, ours / bare, p99, 16 in flight",
            pct(under["ours"], 0.99),
            pct(under["bare"], 0.99),
            "ms",
            2.0,
        ),
        ratio_row(
            f"Slack, ours / bare, p99.9, 16 in flight ({n16} each)",
            pct(under["ours"], 0.999),
            pct(under["bare"], 0.999),
            "ms",
            2.5,
        ),
        ratio_row(
            "Slack, ours / bare, server CPU per command, 16 in flight",
            statistics.fmean(cpu["ours"]) * 1e6,
            statistics.fmean(cpu["bare"]) * 1e6,
            "µs",
            1.4,
        ),
    ]


def start_row(runs: int) -> Row:
    """Median wall time of ``roadmap-bot ask beginner`` against ``import pydantic``."""
    folder = tempfile.mkdtemp()
    env = {
        **os.environ,
        "ROADMAP_DB": str(Path(folder) / "start.db"),
        "ROADMAP_LOG_LEVEL": "WARNING",
    }
    # An installed program starts from its .pyc files: with PYTHONDONTWRITEBYTECODE set
    # (some shells and CI set it) every run would compile our modules from source again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {
        "ours": [sys.executable, "-m", "roadmap_bot", "ask", "beginner"],
        "pydantic": [sys.executable, "-c", "import pydantic"],
        # What any command that opens the store imports before it does anything: the
        # event loop, a pydantic model, SQLAlchemy on asyncio (issue 11's store).
        "floor": [
            sys.executable,
            "-c",
            "import asyncio; from pydantic import BaseModel; import sqlalchemy.ext.asyncio",
        ],
        # The same imports with the collector handled as roadmap-bot's program does
        # (pauses.py): off while importing, everything frozen before exit. Without that
        # the floor's own process spends ~100 ms in collections, half of them at exit.
        "floor, collections as ours": [
            sys.executable,
            "-c",
            "import gc; gc.disable(); import asyncio; from pydantic import BaseModel; "
            "import sqlalchemy.ext.asyncio; gc.freeze(); gc.enable(); gc.freeze()",
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(runs + 1):
        for name, command in commands.items():
            used = _children_cpu()
            start = time.perf_counter()
            subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
            if run:  # the first run of each warms the page cache and writes .pyc files
                times[name].append((time.perf_counter() - start) * 1000)
                cpu[name].append((_children_cpu() - used) * 1000)
    ours, ref = statistics.median(times["ours"]), statistics.median(times["pydantic"])
    what, figure, target, ok = ratio_row(
        f"`roadmap-bot ask beginner` / `python -c 'import pydantic'`, median of {runs}",
        ours,
        ref,
        "ms",
        3.0,
    )
    # CPU time as well: on a busy machine wall time mostly measures the other processes.
    cpu_ratio = statistics.median(cpu["ours"]) / statistics.median(cpu["pydantic"])
    floor = statistics.median(times["floor"]) / ref
    settled = statistics.median(times["floor, collections as ours"]) / ref
    return (
        what,
        f"{figure}, CPU {cpu_ratio:.2f}x; importing asyncio + BaseModel + "
        f"sqlalchemy.ext.asyncio alone: {floor:.2f}x ({settled:.2f}x with collections "
        "as roadmap-bot's)",
        target,
        ok,
    )


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def due_rows(subscriptions: int) -> list[Row]:
    """bench_due's store and timing at the issue's sizes (SQLite): due selection is the
    work a run does before its first digest can start (bench_due.py says what it holds);
    the loop-block row is the longest block over that and over reading all that is due."""
    rows: list[Row] = []
    popular, _, week_down = bench_due.cases()
    blocks: list[float] = []
    for count, (label, at, delivered_until), target in (
        (subscriptions, popular, 30.0),
        (10_000, week_down, 25.0),
    ):
        with tempfile.TemporaryDirectory() as folder:
            store, digests = await bench_due.filled(str(Path(folder) / "due.db"), count)
            bench_due.settle_after_start()  # as serve settles itself once started
            due, first, every = await bench_due.timed_due(store, digests, at, delivered_until, 20)
            await store.close()
        blocks += [first.longest_block, every.longest_block]
        rows.append(
            (
                f"due selection, {count:,} subscriptions, {label} ({due:,} due), until the "
                "first digest starts",
                f"p95 {first.p95:.1f} ms (median {first.median:.1f}, CPU {first.cpu:.1f})",
                f"<= {target:.0f} ms p95",
                first.p95 <= target,
            )
        )
    rows.append(
        (
            "longest event-loop block in due selection, and reading all that is due",
            f"{max(blocks):.1f} ms",
            "<= 20 ms",
            max(blocks) <= 20.0,
        )
    )
    return rows


def fanout_rows(channels: int) -> list[Row]:
    """bench_fanout's child process at the issue's size."""
    r = bench_fanout.run_child(channels)
    exact = r["duplicates"] == 0 and r["lost"] == 0
    return [
        (
            f"digest fan-out, {channels:,} channels, one process, fake Slack",
            f"{r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU ({r['gc'] / r['cpu']:.0%} GC), "
            f"{r['duplicates']} dup / {r['lost']} lost",
            f"<= {bench_fanout.TARGET_SECONDS:.0f} s",
            r["wall"] <= bench_fanout.TARGET_SECONDS and exact,
        ),
        (
            f"digest fan-out, {channels:,} channels, peak memory",
            f"{r['peak']:.0f} MiB (before the run {r['before']:.0f})",
            f"<= {bench_fanout.TARGET_MIB:.0f} MiB",
            r["peak"] <= bench_fanout.TARGET_MIB,
        ),
    ]


async def marks_row() -> Row:
    """bench_marks' traffic on one SQLite store."""
    catalog = bench_marks.load_catalog()
    with tempfile.TemporaryDirectory() as folder:
        hit_rate, rate = await bench_marks.run(catalog, str(Path(folder) / "marks.db"), 1)
    return (
        f"marks reads from memory, {bench_marks.WRITES:.0%} done/undo, SQLite",
        f"{hit_rate:.1%} ({rate:,.0f} commands/s)",
        f">= {bench_marks.TARGET:.0%}",
        hit_rate >= bench_marks.TARGET,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="1-in-flight requests per app")
    parser.add_argument("--starts", type=int, default=10, help="start-up runs per command")
    parser.add_argument("--subscriptions", type=int, default=100_000, help="popular-slot size")
    parser.add_argument("--channels", type=int, default=16_000, help="fan-out size")
    parser.add_argument(
        "--only",
        choices=["slack", "start", "due", "fanout", "marks"],
        action="append",
        help="measure only these rows (repeatable; default: all)",
    )
    args = parser.parse_args()
    only = set(args.only or ("slack", "start", "due", "fanout", "marks"))
    began = time.perf_counter()
    rows: list[Row] = []
    if "slack" in only:
        rows += asyncio.run(slack_rows(args.requests))
    if "start" in only:
        rows.append(start_row(args.starts))
    if "due" in only:
        rows += asyncio.run(due_rows(args.subscriptions))
    if "fanout" in only:
        rows += fanout_rows(args.channels)
    if "marks" in only:
        rows.append(asyncio.run(marks_row()))
    width = max(len(row[0]) for row in rows)
    figure_width = max(len(row[1]) for row in rows)
    for what, figure, target, ok in rows:
        print(
            f"{what:<{width}} | {figure:<{figure_width}} | {target:<12} | {'ok' if ok else 'MISS'}"
        )
    print(f"({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
