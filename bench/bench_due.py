"""Selecting due subscriptions (issue 11: <= 50 ms with 100,000 subscriptions on each
engine; issue 13: <= 30 ms p95 at a popular slot, <= 25 ms p95 for 10,000 all due, and no
event-loop block over 20 ms).

100,000 subscriptions in a steady state (every earlier week delivered): a fifth of them
share the popular slot, Monday 09:00 UTC; the rest are spread over the week, its hours
and eight zones. Three cases:

- at the popular slot (about 20,000 due at once),
- at an ordinary quarter hour (a handful due),
- after a week of downtime: all 100,000 due at once, the worst case.

"Due selection" is the work a run does, from the moment it wakes, before the first digest
can start: reading what is due, planning it, claiming the first posts in the ledger,
reading their subscriptions and their channels' state, composing the first digest and
renewing its lease (the fence): until the first post begins (a real
`Deliverer.run_due`, with a platform that holds its posts; the run is then shut down and
the ledger reset). Each line gives its median, p95 and CPU time, and the longest the event
loop was blocked meanwhile (a ticker task's CPU time between turns). The process is
settled as `serve` settles itself once started (`pauses.settle_after_start`: one
collection, then what start-up made is frozen out of later ones): without it a full
collection of the 100,000 rows' set-up objects, not the selection, is the longest block.

The rest of the run is not free, and is not hidden: each line also gives

- "all due": reading everything `DigestStore.due_batches(now)` yields, batch after batch,
  as a run does over its whole fan-out (with its longest loop block), and
- "reference": every due row read at once as a whole `Subscription`, the selection before
  batching, measured in the same run;

and at the popular slot a last line claims the whole slot in the ledger, 128 posts per
transaction as a run does (without composing or posting): the ledger work of a fan-out.
The whole fan-out, end to end, is bench_fanout.py's. Last, each engine's scheduler starts
once over all the subscriptions (what `serve` does at start-up), with its longest block.

SQLite on a temporary file; PostgreSQL on a throwaway server from Debian's binaries
(tests/postgres_server.py), skipped with the reason when they are missing.

Run: .venv/bin/python bench/bench_due.py [COUNT [RUNS]]
Another version of the code, the same bench (before/after in one session):
    PYTHONPATH=<its checkout>/src .venv/bin/python bench/bench_due.py [COUNT [RUNS]]
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

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import DBAPIError

from roadmap_bot.chat.replies import Reply
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import CLAIM_BATCH, Deliverer
from roadmap_bot.groups.digest import Digest
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.groups.scheduler import DigestScheduler
from roadmap_bot.learning.catalog import Catalog, load_catalog
from roadmap_bot.pauses import settle_after_start
from roadmap_bot.store.digests import ClaimOutcome, ClaimRequest, DigestStore, Subscription
from roadmap_bot.store.schema import deliveries, subscriptions
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
    """Everything a run reads over its whole fan-out: every batch."""
    count = 0
    async for batch in digests.due_batches(at):
        count += len(batch)
    return count


class HeldPoster:
    """A platform whose posts wait until the run is shut down: the first post to begin
    marks the moment the first digest could start."""

    platform = "slack"
    min_interval = 0.0

    def __init__(self) -> None:
        self.first = asyncio.Event()
        self.began = 0.0  # the clock and the process's CPU time when the first post began
        self.cpu = 0.0

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        if not self.first.is_set():
            self.began, self.cpu = clock.perf_counter(), clock.process_time()
            self.first.set()
        await asyncio.Event().wait()  # cancelled by the shutdown
        raise AssertionError("unreachable")

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        return None

    async def find_post(self, channel: str, delivery_id: str, since: datetime) -> str | None:
        return None

    async def find_discussion(self, channel: str, message_id: str, delivery_id: str) -> bool:
        return False


async def snapshot(store: SqlStore) -> None:
    """Keep every schedule as it is now, for :func:`reset` (a run moves some on)."""
    async with store.write() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS bench_due_schedules")
        await conn.exec_driver_sql(
            "CREATE TABLE bench_due_schedules AS SELECT id, next_due_at FROM subscriptions"
        )


async def reset(store: SqlStore) -> None:
    """The ledger empty and every schedule as at the last :func:`snapshot`."""
    for attempt in range(3):
        try:
            async with store.write() as conn:
                await conn.execute(delete(deliveries))
                await conn.exec_driver_sql(
                    "UPDATE subscriptions SET next_due_at = b.next_due_at "
                    "FROM bench_due_schedules b WHERE b.id = subscriptions.id "
                    "AND subscriptions.next_due_at <> b.next_due_at"
                )
            return
        except DBAPIError:
            # An older version's run (measured for comparison) may still be writing its
            # last fences after shutdown: PostgreSQL then aborts one of the two.
            if attempt == 2:
                raise
            await asyncio.sleep(0.5)


@dataclass
class Sample:
    ms: float  # wall time
    cpu: float  # ms of the process (the database driver's threads too)
    block: float  # ms: the longest the event loop was blocked
    due: int


async def first_digest(store: SqlStore, catalog: Catalog, at: datetime) -> Sample:
    """A real run from its start until its first post begins; then shut down and reset."""
    poster = HeldPoster()
    deliverer = Deliverer(
        catalog, store, FixedClock(at), {"slack": poster}, catchup=timedelta(hours=24)
    )
    async with Ticker() as ticker:
        cpu = clock.process_time()
        start = clock.perf_counter()
        run = asyncio.create_task(deliverer.run_due(at))
        first = asyncio.create_task(poster.first.wait())
        await asyncio.wait([run, first], return_when=asyncio.FIRST_COMPLETED)
        took = (poster.began - start) * 1000
        cpu = (poster.cpu - cpu) * 1000
    block = ticker.worst
    if not first.done():
        first.cancel()
        raise RuntimeError("the run ended without starting a digest")
    await deliverer.shutdown(grace=0)
    while not run.done():  # an older version could start deliveries after shutdown began
        for task in list(deliverer._inflight):
            task.cancel()
        await asyncio.wait([run], timeout=0.05)
    await reset(store)
    return Sample(took, cpu, block, 1)


async def claim_slot(store: SqlStore, digests: DigestStore, at: datetime) -> Sample:
    """Every due row claimed in the ledger, CLAIM_BATCH per transaction, and each claimed
    subscription read whole, as a run does over its fan-out (no composing, no posting);
    then the ledger is reset."""
    claimed = 0
    async with Ticker() as ticker:
        cpu = clock.process_time()
        start = clock.perf_counter()
        async for batch in digests.due_batches(at):
            for first in range(0, len(batch), CLAIM_BATCH):
                wanted = [
                    ClaimRequest(s, s.next_due_at.astimezone(s.schedule.tz).date(), s.next_due_at)
                    for s in batch[first : first + CLAIM_BATCH]
                ]
                claims = await digests.claim_many(wanted, "bench", at, timedelta(minutes=2))
                ours = [c.delivery.subscription_id for c in claims if c.outcome is ClaimOutcome.NEW]
                claimed += len(await digests.subscriptions(ours))
        took = (clock.perf_counter() - start) * 1000
        cpu = (clock.process_time() - cpu) * 1000
    block = ticker.worst
    await reset(store)
    return Sample(took, cpu, block, claimed)


async def read_all(select_all: Callable[[], Awaitable[int]]) -> Sample:
    async with Ticker() as ticker:
        cpu = clock.process_time()
        start = clock.perf_counter()
        due = await select_all()
        took = (clock.perf_counter() - start) * 1000
        cpu = (clock.process_time() - cpu) * 1000
    block = ticker.worst
    return Sample(took, cpu, block, due)


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
        self.worst = 0.0  # complete once the ``async with`` block is left
        self._before = clock.thread_time()
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            self._before = clock.thread_time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, (clock.thread_time() - self._before) * 1000)

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        # The stretch under way counts too: a block that ends the measured work ends
        # before the ticker's next turn (it was missed, and was the longest one, when
        # the work was one long block).
        self.worst = max(self.worst, (clock.thread_time() - self._before) * 1000)
        assert self._task is not None
        self._task.cancel()


async def timed(measure_once: Callable[[], Awaitable[Sample]], runs: int) -> Timed:
    """``runs`` samples: their times (ms) sorted, the mean CPU time and the longest block."""
    samples = [await measure_once() for _ in range(runs)]
    return Timed(
        samples[-1].due,
        sorted(s.ms for s in samples),
        max(s.block for s in samples),
        statistics.fmean(s.cpu for s in samples),
    )


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

    def line(self) -> str:
        return (
            f"median {self.median:6.1f} ms, p95 {self.p95:6.1f}, CPU {self.cpu:6.1f}, "
            f"block {self.longest_block:5.1f}"
        )


async def timed_due(
    store: SqlStore,
    digests: DigestStore,
    at: datetime,
    delivered_until: datetime,
    runs: int,
    catalog: Catalog | None = None,
) -> tuple[int, Timed, Timed]:
    """How many are due at ``at`` in a steady state; the due selection (until the first
    digest starts) and reading all that is due, each ``runs`` times."""
    await steady(store, digests, delivered_until)
    await snapshot(store)
    catalog = catalog or load_catalog()
    first = await timed(partial(first_digest, store, catalog, at), runs)
    every = await timed(partial(read_all, partial(select_due, digests, at)), runs)
    return every.due, first, every


async def measure(engine: str, where: str, count: int, runs: int) -> None:
    print(
        f"{engine}: due selection (until the first digest starts) <= 50 ms (issue 11); "
        "popular slot <= 30 ms p95, loop block <= 20 ms (issue 13)"
    )
    store, digests = await filled(where, count)
    catalog = load_catalog()
    settle_after_start()  # as serve settles itself once started
    for label, at, delivered_until in cases():
        due, first, every = await timed_due(store, digests, at, delivered_until, runs, catalog)
        before = await timed(partial(read_all, partial(select_whole, store, at)), runs)
        print(
            f"{engine:<10} {label:<14} {due:>6} due of {count}: first digest {first.line()} | "
            f"all due: {every.line()} | reference: {before.line()}"
        )
        if label == "popular slot":
            slot = await timed(partial(claim_slot, store, digests, at), max(2, runs // 5))
            print(
                f"{engine:<10} {label:<14} {slot.due:>6} claimed, 128 a transaction: {slot.line()}"
            )
    start = await scheduler_start(store, catalog)
    print(
        f"{engine:<10} scheduler start with {count} subscriptions: {start.timings[0]:.1f} ms, "
        f"CPU {start.cpu:.1f}, block {start.longest_block:.1f}, {start.due} job(s)"
    )
    await store.close()


async def scheduler_start(store: SqlStore, catalog: Catalog) -> Timed:
    """``serve``'s scheduler starting (then stopped): what it reads and builds for the
    subscriptions, and the longest it blocks the event loop meanwhile (one run)."""
    scheduler = DigestScheduler(Deliverer(catalog, store, FixedClock(NOW), {}))
    async with Ticker() as ticker:
        cpu = clock.process_time()
        start = clock.perf_counter()
        await scheduler.start()
        took = (clock.perf_counter() - start) * 1000
        cpu = (clock.process_time() - cpu) * 1000
    block = ticker.worst
    jobs = len(scheduler.job_ids())
    await scheduler.stop()
    return Timed(jobs, [took], block, cpu)


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
