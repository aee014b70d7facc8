"""Selecting due subscriptions (issue 5 target: <= 50 ms with 10,000 subscriptions).

10,000 subscriptions in a steady state (every earlier week delivered): a fifth of them
share the popular slot, Monday 09:00 UTC; the rest are spread over the week, its hours
and eight zones. Measures `DigestStore.due(now)`:

- at the popular slot (about 2,000 due at once),
- at an ordinary quarter hour (a handful due),
- after a week of downtime: all 10,000 due at once, the worst case.

Run: .venv/bin/python bench/bench_due.py
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.digests import DigestStore
from roadmap_bot.store.sqlite import SqliteStore, to_text

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
COUNT = 10_000
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def main() -> None:
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as folder:
        store = await SqliteStore.open(Path(folder) / "due.db")
        digests = DigestStore(store)
        for i in range(COUNT):
            if i % 5 == 0:
                schedule = Schedule(0, time(9, 0), "UTC")
            else:
                schedule = Schedule(
                    rng.randrange(7),
                    time(rng.randrange(24), rng.choice([0, 15, 30, 45])),
                    rng.choice(ZONES),
                )
            await digests.subscribe(
                f"slack:T1:C{i}", "level:beginner", schedule, "slack:T1:U1", NOW
            )
        popular = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        ordinary = NOW + timedelta(days=2, hours=5, minutes=15)
        cases = (
            ("popular slot", popular, popular - timedelta(minutes=5)),
            ("ordinary tick", ordinary, ordinary - timedelta(minutes=5)),
            ("a week down", NOW + timedelta(days=8), NOW),
        )
        subs = await digests.active()
        for label, at, delivered_until in cases:
            # steady state: every occurrence up to `delivered_until` was delivered
            async with store.write() as conn:
                await conn.executemany(
                    "UPDATE subscriptions SET next_due_at = ? WHERE id = ?",
                    [(to_text(s.schedule.next_after(delivered_until)[1]), s.id) for s in subs],
                )
            timings = []
            for _ in range(20):
                start = clock.perf_counter()
                due = await digests.due(at)
                timings.append((clock.perf_counter() - start) * 1000)
            timings.sort()
            print(
                f"{label:<14} {len(due):>6} due of {COUNT}: median "
                f"{statistics.median(timings):6.1f} ms, p95 {timings[18]:6.1f} ms (target <= 50 ms)"
            )
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
