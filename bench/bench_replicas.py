"""One week's digests to 20,000 Slack channels over three replicas on one PostgreSQL
(issue 11 target: <= 30 s, no duplicate, no loss).

A throwaway PostgreSQL (Debian's server binaries, as the tests start it) holds 20,000
subscriptions all due at Monday 09:00 UTC. The fake Slack of bench_slack_digests.py runs
in its own process and behaves like a busy Slack: every call takes 20 ms, one message
per second per channel (a second one within the second gets a 429 with Retry-After), and
2% of posts get a 429 anyway. The reports' outlines are cached first (``roadmap-bot
reports refresh`` from a local server, as a deployment's cache is after its first day),
so each digest carries its reading agenda. Three real ``roadmap-bot digest run-due`` processes (the
deliverer serve's scheduler runs, without the HTTP side) start together on the same
database and share the week through the ledger's leases; then a fourth run shows nothing
is posted twice. At the end the fake's own record is counted: top-level digests and
thread replies per channel.

Wall time is from starting the three processes to the last one's exit (their start-up
included). Each process prints what it did, so the split between them shows.

Exit 1 when any digest or thread is missing or posted twice (the time is only reported).

``--replicas 1,3`` runs one replica and then three at the same load, each on a database
and a fake Slack of its own, and prints them side by side: wall time, and CPU per digest
of each kind of process (the replicas, PostgreSQL, the fake Slack), with what those
imply for 20,000 digests. On a 2-core machine all of them share the same two cores.

Run: .venv/bin/python bench/bench_replicas.py [--channels N] [--replicas 1,3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from sqlalchemy import text

from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.learning.catalog import load_catalog
from roadmap_bot.store.schema import subscriptions
from roadmap_bot.store.sql import SqlStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from bench_reports import synthetic_report  # noqa: E402
from bench_slack_digests import fake_process  # noqa: E402
from fakes.runs import clean_env, run_due, start  # noqa: E402
from fakes.slack_requests import BOT_TOKEN, SIGNING_SECRET  # noqa: E402
from postgres_server import PostgresServer, missing_reason  # noqa: E402

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # when the channels subscribed
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 09:00 UTC, every channel's slot
TARGET = 30.0  # seconds
PROCESS_TIMEOUT = 600.0


async def subscribe(url: str, channels: int) -> None:
    """``channels`` weekly subscriptions, all due at DUE, in one insert."""
    catalog = load_catalog()
    targets = [f"path:{p.slug}" for p in catalog.paths] + ["level:beginner"]
    monday_nine = Schedule(0, datetime(2000, 1, 1, 9, 0).time(), "UTC")
    store = await SqlStore.open(url)
    try:
        rows = [
            {
                "channel": f"slack:T1:C{i:05d}",
                "target": targets[i % len(targets)],
                "weekday": monday_nine.weekday,
                "at_time": monday_nine.at.strftime("%H:%M"),
                "timezone": monday_nine.zone,
                "created_by": "slack:T1:U1",
                "created_at": NOW,
                "next_due_at": monday_nine.next_after(NOW)[1],
            }
            for i in range(channels)
        ]
        async with store.write() as conn:
            await conn.execute(subscriptions.insert(), rows)
    finally:
        await store.close()


@asynccontextmanager
async def report_server() -> AsyncIterator[str]:
    """Every project's report (bench_reports.py's synthetic 30 KB one) on 127.0.0.1."""
    body = synthetic_report(30).encode()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/plain")

    application = web.Application()
    application.router.add_get("/oss/{name}.md", serve)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/oss/{{name}}.md"
    finally:
        await runner.cleanup()


def _postgres_cpu(server: PostgresServer) -> float | None:
    """CPU seconds the PostgreSQL server has used: the postmaster with its finished
    children, and its live ones (backends, background writers); None if unreadable."""
    try:
        postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return None
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # from the state on
        except OSError:
            continue  # gone meanwhile
        if int(stat.parent.name) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def _commits(url: str) -> int:
    """Transactions committed in the database so far (the statistics PostgreSQL keeps)."""
    await asyncio.sleep(1.5)  # backends report their counts about once a second
    store = await SqlStore.open(url)
    try:
        async with store.db.read() as conn:
            query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            return int((await conn.execute(text(query))).scalar_one())
    finally:
        await store.close()


async def _peak_connections(url: str, done: asyncio.Event) -> int:
    """The most connections to the database seen at once (sampled), ours not counted."""
    store = await SqlStore.open(url)
    peak = 0
    query = text("SELECT count(*) - 1 FROM pg_stat_activity WHERE datname = current_database()")
    try:
        while not done.is_set():
            # a transaction of its own each time: PostgreSQL keeps one snapshot of its
            # statistics views for a whole transaction
            async with store.db.read() as conn:
                peak = max(peak, int((await conn.execute(query)).scalar_one()))
            with suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.2)
    finally:
        await store.close()
    return peak


async def one_run(
    server: PostgresServer, reports: str, database: str, channels: int, replicas: int
) -> dict[str, Any]:
    """``replicas`` run-due processes over ``channels`` due subscriptions, in a database
    of their own and with a fake Slack of their own; then a run after them."""
    admin = await asyncpg.connect(server.url())
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    url = server.url(database)
    await subscribe(url, channels)
    cwd = Path(tempfile.mkdtemp())  # an empty folder: no developer's .env is read
    async with fake_process() as (api_url, fake):
        env = clean_env(
            ROADMAP_DATABASE_URL=url,
            ROADMAP_LOG_LEVEL="WARNING",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=api_url,
            ROADMAP_REPORT_URL=reports,
        )
        refreshed = await start(cwd, env, "reports", "refresh")
        code, out, err = await refreshed.finish(PROCESS_TIMEOUT)
        assert code == 0, out + err
        commits_before = await _commits(url)
        cpu_before, pg_before = _children_cpu(), _postgres_cpu(server)
        finished = asyncio.Event()
        sampling = asyncio.create_task(_peak_connections(url, finished))
        started = time.perf_counter()
        workers = [await run_due(cwd, env, DUE) for _ in range(replicas)]
        results = await asyncio.gather(*(w.finish(PROCESS_TIMEOUT) for w in workers))
        took = time.perf_counter() - started
        finished.set()
        connections = await sampling
        cpu = _children_cpu() - cpu_before  # the run-due processes' own CPU, start-up included
        pg_after = _postgres_cpu(server)
        commits = await _commits(url) - commits_before - 1  # not counting our own read
        idle_before = _children_cpu()
        again = await run_due(cwd, env, DUE + timedelta(minutes=5))
        again_code, again_out, again_err = await again.finish(PROCESS_TIMEOUT)
        # a process that finds everything done: about what start-up alone costs
        startup = _children_cpu() - idle_before
        assert fake.stdin is not None and fake.stdout is not None
        fake.stdin.close()
        report: dict[str, Any] = json.loads(
            await asyncio.get_running_loop().run_in_executor(None, fake.stdout.readline)
        )
    counts = report["counts"]
    expected = [f"C{i:05d}" for i in range(channels)]
    duplicates = sum(1 for c in expected if counts.get(c, [0, 0])[0] > 1)
    lost = sum(1 for c in expected if counts.get(c, [0, 0])[0] == 0)
    threads = sum(1 for c in expected if counts.get(c, [0, 0])[1] == 1)
    failed = [code for code, _, _ in results if code != 0] + ([again_code] if again_code else [])
    return {
        "replicas": replicas,
        "channels": channels,
        "wall": took,
        "cpu": cpu,
        "startup": startup,
        "pg_cpu": pg_after - pg_before if pg_after is not None and pg_before else None,
        "fake_cpu": report["cpu"],
        "calls": report["calls"],
        "rate_limited": report["rate_limited"],
        "commits": commits,
        "connections": connections,
        "duplicates": duplicates,
        "lost": lost,
        "threads": threads,
        # exactly once is a must (exit 1 otherwise, as for the fault run); the time a target
        "correct": duplicates == 0 and lost == 0 and threads == channels and not failed,
        "processes": [out.strip() or err.strip()[-300:] for _, out, err in results],
        "again": again_out.strip() or again_err.strip()[-300:],
    }


def show(r: dict[str, Any]) -> None:
    channels, replicas, took = r["channels"], r["replicas"], r["wall"]
    print(f"-- {channels} channels over {replicas} run-due process(es) on one PostgreSQL")
    for i, line in enumerate(r["processes"], 1):
        print(f"process {i}: {line}")
    print(f"a run after them: {r['again']}")
    print(
        f"Slack saw {r['calls']} calls, {r['rate_limited']} answered 429; digests posted once: "
        f"{channels - r['duplicates'] - r['lost']}, duplicates: {r['duplicates']}, lost: "
        f"{r['lost']}; discussion threads: {r['threads']}"
    )
    pg = f"{r['pg_cpu']:.1f} s" if r["pg_cpu"] is not None else "unknown"
    print(
        f"PostgreSQL: {r['commits']} transactions committed ({r['commits'] / channels:.2f} per "
        f"digest, {r['commits'] / took:.0f}/s), server CPU {pg}, at most {r['connections']} "
        "connections at once"
    )
    print(
        f"wall time {took:.1f} s (target <= {TARGET:g} s at 20,000 over 3), "
        f"{channels / took:.0f} digests/s  {'' if r['correct'] else 'NOT EXACTLY ONCE'}"
    )


def per_digest(r: dict[str, Any]) -> dict[str, float | None]:
    """CPU milliseconds per digest of each kind of process; the replicas' without their
    start-up (the CPU of a run that found everything done, once per process)."""
    n = r["channels"]
    return {
        "replicas": (r["cpu"] - r["replicas"] * r["startup"]) / n * 1000,
        "postgres": r["pg_cpu"] / n * 1000 if r["pg_cpu"] is not None else None,
        "fake": r["fake_cpu"] / n * 1000,
    }


def summary(runs: list[dict[str, Any]]) -> None:
    """Side by side, and what the CPU per digest implies for 20,000 digests."""
    cores = os.cpu_count() or 1
    print(
        f"-- side by side (same run, {cores} cores shared by every process below; load "
        f"average {os.getloadavg()[0]:.1f} at the end)"
    )
    print(
        f"{'replicas':>8} {'channels':>8} {'wall s':>7} {'digests/s':>9} {'start-up s':>10} "
        f"{'ms CPU/digest: replicas':>23} {'PostgreSQL':>10} {'fake Slack':>10}"
    )
    for r in runs:
        cpu = per_digest(r)
        pg = f"{cpu['postgres']:10.2f}" if cpu["postgres"] is not None else f"{'?':>10}"
        print(
            f"{r['replicas']:>8} {r['channels']:>8} {r['wall']:7.1f} "
            f"{r['channels'] / r['wall']:9.0f} {r['startup']:10.2f} {cpu['replicas']:23.2f} "
            f"{pg} {cpu['fake']:10.2f}"
        )
    first, last = runs[0], runs[-1]
    if len(runs) > 1:
        print(
            f"{last['replicas']} replicas / {first['replicas']}: wall "
            f"{last['wall'] / first['wall']:.2f}x, replica CPU per digest "
            f"{per_digest(last)['replicas'] / per_digest(first)['replicas']:.2f}x"
        )
    cpu = per_digest(last)
    ours = cpu["replicas"] + (cpu["postgres"] or 0.0)
    alone = 20_000 * ours / 1000 + last["replicas"] * last["startup"]
    print(
        f"20,000 digests over {last['replicas']} at these figures: {alone:.0f} s of CPU in "
        "replicas (start-up included) and PostgreSQL "
        f"({alone / cores:.0f} s on these {cores} cores with nothing else running; "
        f"{alone / TARGET:.1f} cores for {TARGET:g} s); the fake Slack here adds "
        f"{20_000 * cpu['fake'] / 1000:.0f} s of CPU on the same cores, which real Slack "
        "would not"
    )


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def main(channels: int, counts: list[int]) -> bool:
    reason = missing_reason()
    if reason is not None:
        print(f"skipped: {reason}")
        return True
    print(
        f"{channels} channels, all due at once; fake Slack: 20 ms per call, 1 msg/s per "
        f"channel, 2% random 429s; replica counts in turn: {', '.join(map(str, counts))}"
    )
    server = PostgresServer()
    server.start()
    runs = []
    try:
        async with report_server() as reports:
            for i, replicas in enumerate(counts):
                runs.append(await one_run(server, reports, f"run{i}", channels, replicas))
                show(runs[-1])
    finally:
        server.stop()
    summary(runs)
    return all(r["correct"] for r in runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=20_000)
    parser.add_argument(
        "--replicas",
        default="3",
        help="replica counts to run in turn at the same load, e.g. 1,3 (default 3)",
    )
    args = parser.parse_args()
    os.environ.setdefault("ROADMAP_LOG_LEVEL", "WARNING")
    ok = asyncio.run(main(args.channels, [int(n) for n in args.replicas.split(",")]))
    sys.exit(0 if ok else 1)
