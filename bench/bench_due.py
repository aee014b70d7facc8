"""Selecting due subscriptions (issue 11 target: <= 50 ms with 100,000 subscriptions, on
each engine).

100,000 subscriptions in a steady state (every earlier week delivered): a fifth of them
share the popular slot, Monday 09:00 UTC; the rest are spread over the week, its hours
and eight zones. Measures `DigestStore.due(now)`:

- at the popular slot (about 20,000 due at once),
- at an ordinary quarter hour (a handful due),
- after a week of downtime: all 100,000 due at once, the worst case.

SQLite on a temporary file; PostgreSQL on a throwaway server from Debian's binaries
(tests/postgres_server.py), skipped with the reason when they are missing.

Run: .venv/bin/python bench/bench_due.py [COUNT]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import bindparam, update

from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.digests import DigestStore
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


async def timed_due(
    store: SqlStore, digests: DigestStore, at: datetime, delivered_until: datetime, runs: int
) -> tuple[int, list[float]]:
    """How many are due at ``at`` in a steady state, and each run's time (ms), sorted."""
    subs = await digests.active()
    move = (
        update(subscriptions)
        .where(subscriptions.c.id == bindparam("sid"))
        .values(next_due_at=bindparam("due"))
    )
    # steady state: every occurrence up to `delivered_until` was delivered
    async with store.write() as conn:
        await conn.execute(
            move,
            [{"sid": s.id, "due": s.schedule.next_after(delivered_until)[1]} for s in subs],
        )
    timings = []
    due = []
    for _ in range(runs):
        start = clock.perf_counter()
        due = await digests.due(at)
        timings.append((clock.perf_counter() - start) * 1000)
    return len(due), sorted(timings)


async def measure(engine: str, where: str, count: int) -> None:
    store, digests = await filled(where, count)
    for label, at, delivered_until in cases():
        due, timings = await timed_due(store, digests, at, delivered_until, 10)
        print(
            f"{engine:<10} {label:<14} {due:>6} due of {count}: median "
            f"{statistics.median(timings):7.1f} ms, max {timings[-1]:7.1f} ms (target <= 50 ms)"
        )
    await store.close()


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else COUNT
    with tempfile.TemporaryDirectory() as folder:
        await measure("sqlite", str(Path(folder) / "due.db"), count)
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from postgres_server import PostgresServer, missing_reason

    reason = missing_reason()
    if reason is not None:
        print(f"postgresql skipped: {reason}")
        return
    server = PostgresServer()
    server.start()
    try:
        await measure("postgresql", server.url(), count)
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
