"""Selecting due subscriptions (issue 11: <= 50 ms with 100,000 subscriptions on each
engine; issue 13: <= 30 ms p95 at a popular slot, <= 25 ms p95 for 10,000 all due, and no
event-loop block over 20 ms).

100,000 subscriptions in a steady state (every earlier week delivered): a fifth of them
share the popular slot, Monday 09:00 UTC; the rest are spread over the week, its hours
and eight zones. Measures reading everything `DigestStore.due_batches(now)` yields:

- at the popular slot (about 20,000 due at once),
- at an ordinary quarter hour (a handful due),
- after a week of downtime: all 100,000 due at once, the worst case.

Each line gives the median and p95 of the whole selection, the longest the event loop
was blocked meanwhile (a ticker task's lateness), and, as the reference measured in the
same run, the selection before batching: every due row read at once as a whole
`Subscription`.

SQLite on a temporary file; PostgreSQL on a throwaway server from Debian's binaries
(tests/postgres_server.py), skipped with the reason when they are missing.

Run: .venv/bin/python bench/bench_due.py [COUNT [RUNS]]
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import sys
import tempfile
import time as clock
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import bindparam, select, update

from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.digests import DigestStore, Subscription
from roadmap_bot.store.schema import subscriptions
from roadmap_bot.store.sql import SqlStore

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Europe/London",
]
COUNT = 100_000
RUNS = 20
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def filled(where: str, count: int) -> tuple[SqlStore, DigestStore]:
    """A store at ``where`` with ``count`` subscriptions: a fifth on the popular slot."""
    rng = random.Random(5)
    store = await SqlStore.open(where)
    digests = DigestStore(store)
    rows = []
    for i in range(count):
        if i % 5 == 0:
            schedule = Schedule(0, time(9, 0), "UTC")
        else:
            schedule = Schedule(
                rng.randrange(7),
                time(rng.randrange(24), rng.choice([0, 15, 30, 45])),
                rng.choice(ZONES),
            )
        rows.append(
            {
                "channel": f"slack:T1:C{i}",
                "target": "level:beginner",
                "weekday": schedule.weekday,
                "at_time": schedule.at.strftime("%H:%M"),
                "timezone": schedule.zone,
                "created_by": "slack:T1:U1",
                "created_at": NOW,
                "next_due_at": schedule.next_after(NOW)[1],
            }
        )
    async with store.write() as conn:
        await conn.execute(subscriptions.insert(), rows)
    return store, digests


def cases() -> tuple[tuple[str, datetime, datetime], ...]:
    """(label, the instant asked, every occurrence up to this one was delivered)."""
    popular = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    ordinary = NOW + timedelta(days=2, hours=5, minutes=15)
    return (
        ("popular slot", popular, popular - timedelta(minutes=5)),
        ("ordinary tick", ordinary, ordinary - timedelta(minutes=5)),
        ("a week down", NOW + timedelta(days=8), NOW),
    )


async def steady(store: SqlStore, digests: DigestStore, delivered_until: datetime) -> None:
    """Every occurrence up to ``delivered_until`` was delivered."""
    subs = await digests.active()
    move = (
        update(subscriptions)
        .where(subscriptions.c.id == bindparam("sid"))
        .values(next_due_at=bindparam("due"))
    )
    async with store.write() as conn:
        await conn.execute(
            move,
            [{"sid": s.id, "due": s.schedule.next_after(delivered_until)[1]} for s in subs],
        )
    if store.db.dialect == "postgresql":
        # as autovacuum would soon after every row changed: the planner's statistics
        async with store.write() as conn:  # committed: a rolled-back ANALYZE keeps nothing
            await conn.exec_driver_sql("ANALYZE subscriptions")


async def select_due(digests: DigestStore, at: datetime) -> int:
    """The selection as the deliverer reads it: every batch."""
    count = 0
    async for batch in digests.due_batches(at):
        count += len(batch)
    return count


async def select_whole(store: SqlStore, at: datetime) -> int:
    """The reference: the selection before batching, every due row at once as a whole
    Subscription (11 columns, each instant parsed by its column type)."""
    s = subscriptions
    query = (
        select(
            s.c.id,
            s.c.channel,
            s.c.target,
            s.c.weekday,
            s.c.at_time,
            s.c.timezone,
            s.c.created_by,
            s.c.created_at,
            s.c.next_due_at,
            s.c.paused_until,
            s.c.problem,
        )
        .where(s.c.ended_at.is_(None), s.c.problem.is_(None), s.c.next_due_at <= at)
        .order_by(s.c.next_due_at, s.c.id)
    )
    async with store.db.read() as conn:
        rows = (await conn.execute(query)).all()
    found = [
        Subscription(
            sid, channel, target, Schedule(wd, time.fromisoformat(t), z), by, c, due, p, prob
        )
        for (sid, channel, target, wd, t, z, by, c, due, p, prob) in rows
    ]
    return len(found)


class Ticker:
    """The longest stretch the event loop spent in other work between two turns of a 1 ms
    timer, as this thread's CPU time: unlike the timer's lateness on the clock, it does not
    count the time the operating system gave other processes (six share this machine)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = clock.thread_time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, (clock.thread_time() - before) * 1000)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def timed(select_all: Callable[[], Awaitable[int]], runs: int) -> Timed:
    """Each run's time (ms), sorted, the process CPU time per run and the longest
    event-loop block (ms)."""
    timings = []
    due = 0
    cpu = clock.process_time()
    async with Ticker() as ticker:
        for _ in range(runs):
            start = clock.perf_counter()
            due = await select_all()
            timings.append((clock.perf_counter() - start) * 1000)
    cpu = (clock.process_time() - cpu) * 1000 / runs
    return Timed(due, sorted(timings), ticker.worst, cpu)


@dataclass
class Timed:
    due: int
    timings: list[float]  # ms, sorted
    longest_block: float  # ms of the event loop's thread
    cpu: float  # ms of the process (the database driver's threads too) per run

    @property
    def p95(self) -> float:
        return self.timings[max(0, math.ceil(len(self.timings) * 0.95) - 1)]

    @property
    def median(self) -> float:
        return statistics.median(self.timings)


async def timed_due(
    store: SqlStore, digests: DigestStore, at: datetime, delivered_until: datetime, runs: int
) -> tuple[int, list[float]]:
    """How many are due at ``at`` in a steady state, and each run's time (ms), sorted."""
    await steady(store, digests, delivered_until)
    found = await timed(partial(select_due, digests, at), runs)
    return found.due, found.timings


async def measure(engine: str, where: str, count: int, runs: int) -> None:
    print(
        f"{engine}: targets <= 50 ms (issue 11); popular slot <= 30 ms p95, "
        "loop block <= 20 ms (issue 13)"
    )
    store, digests = await filled(where, count)
    for label, at, delivered_until in cases():
        await steady(store, digests, delivered_until)
        ours = await timed(partial(select_due, digests, at), runs)
        before = await timed(partial(select_whole, store, at), runs)
        print(
            f"{engine:<10} {label:<14} {ours.due:>6} due of {count}: median "
            f"{ours.median:6.1f} ms, p95 {ours.p95:6.1f} ms, CPU {ours.cpu:6.1f} ms, "
            f"longest loop block {ours.longest_block:5.1f} ms | before: median "
            f"{before.median:6.1f}, p95 {before.p95:6.1f}, CPU {before.cpu:6.1f}, block "
            f"{before.longest_block:5.1f} | p95 {ours.p95 / before.p95:.2f}x, CPU "
            f"{ours.cpu / before.cpu:.2f}x"
        )
    await store.close()


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else COUNT
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else RUNS
    with tempfile.TemporaryDirectory() as folder:
        await measure("sqlite", str(Path(folder) / "due.db"), count, runs)
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from postgres_server import PostgresServer, missing_reason

    reason = missing_reason()
    if reason is not None:
        print(f"postgresql skipped: {reason}")
        return
    server = PostgresServer()
    server.start()
    try:
        await measure("postgresql", server.url(), count, runs)
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
