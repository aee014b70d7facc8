"""APScheduler wakes the deliverer; the ledger, not the scheduler, decides what is posted.

One job wakes the deliverer at the next instant any subscription falls due, read from the
``subscriptions_due`` index (whatever the number of subscriptions: nothing is built per
subscription, and start-up with 100,000 reads one row). Each subscription's instants come
from its own schedule, in its own zone (``weekly.Schedule``), the arithmetic the
deliverer uses, DST edges included. After every run, every sweep and every change made in
this process, the job is set again to the next instant. A sweep every few minutes also
catches what another process changed, and retries failures within the catch-up window.
At start-up one run delivers what was missed while down (:meth:`DigestScheduler.catch_up`,
which ``serve`` runs beside its adapters, never before them: /healthz and commands answer
during it).

Runs are not serialised: each wake delivers on its own, and the ledger's leases keep two
runs (here or in another process) from sending the same week, so a channel waiting out a
Retry-After never holds up another's digest. Runs of one minute are shared, though: a
wake whose minute an unfinished run already covers waits for that run instead of
starting another.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from roadmap_bot.groups.delivery import SHUTDOWN_GRACE, Deliverer, RunSummary
from roadmap_bot.store.problems import database_problem

log = logging.getLogger(__name__)

SWEEP_MINUTES = 5
WAKE_JOB = "digest:next"
WAKE_AFTER_GRACE = 2.0  # seconds a stopping scheduler waits for its wake once the deliverer closed


class DigestScheduler:
    """Keeps one job at the next due instant, and a periodic sweep."""

    def __init__(self, deliverer: Deliverer, sweep_minutes: float = SWEEP_MINUTES) -> None:
        self.deliverer = deliverer
        self.sweep_minutes = sweep_minutes
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.next_due: datetime | None = None  # the instant the wake job is set for
        self._rebuilding: asyncio.Task[None] | None = None
        self._stale = False  # a change came after the rebuild under way read the table
        self._current: tuple[datetime, asyncio.Future[RunSummary]] | None = None  # timed run
        self._wakes: set[asyncio.Task[object]] = set()  # the jobs' tasks under way

    async def start(self) -> None:
        """Set the wake job and start ticking (then call :meth:`catch_up`)."""
        # Started first: before that APScheduler only queues jobs and would not
        # replace one queued under the same id. Callable again after a failed rebuild
        # (serve retries it while the database is busy).
        if not self.scheduler.running:
            self.scheduler.start()
        await self.rebuild()
        self.scheduler.add_job(
            self._wake,
            IntervalTrigger(minutes=self.sweep_minutes, timezone=UTC),
            id="sweep",
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )

    async def catch_up(self) -> RunSummary:
        """Deliver whatever is due right now (after downtime), and log what happened."""
        summary = await self.tick()
        log.info("start-up catch-up: %s", summary.line())
        await self._rebuild_quietly()  # the run moved schedules on
        return summary

    async def tick(self) -> RunSummary:
        return await self.deliverer.run_due()

    async def _job(self) -> None:
        """A timed run. A database another process holds past the busy timeout is a
        warning, not a traceback: nothing was claimed, and the next run (the sweep within
        minutes) tries again."""
        # Wakes fire on the instant (APScheduler's wall clock): a run begun at or after
        # the start of this minute sees everything due by then.
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        current = self._current
        if current is not None and not current[1].done() and current[0] >= minute:
            await asyncio.wait([current[1]])  # the job that began it logs how it ended
            return
        run = asyncio.ensure_future(self.tick())
        self._current = (datetime.now(UTC), run)
        try:
            await run
        except Exception as exc:
            problem = database_problem(exc)
            if problem is None or problem.kind != "busy":
                raise
            log.warning(
                "digest run: the database is busy (%s); the next run tries again",
                problem.detail,
            )

    async def _wake(self) -> None:
        """A due instant came, or the sweep's turn: run, then set the wake job again (the
        run moved schedules on; another process may have added an earlier instant)."""
        task = asyncio.current_task()
        if task is not None:  # for stop() to wait for
            self._wakes.add(task)
            task.add_done_callback(self._wakes.discard)
        try:
            await self._job()
        finally:
            await self._rebuild_quietly()

    async def rebuild(self) -> None:
        """Set the wake job to the next instant a subscription falls due (none: no job)."""
        now = self.deliverer.clock.now()
        due = await self.deliverer.digests.next_due_after(now)
        self.next_due = due
        if due is None:
            if self.scheduler.get_job(WAKE_JOB) is not None:
                self.scheduler.remove_job(WAKE_JOB)
            return
        # APScheduler waits on the wall clock; the deliverer's clock says how far off the
        # instant is (the same thing in production, a fixed instant in tests).
        self.scheduler.add_job(
            self._wake,
            DateTrigger(datetime.now(UTC) + (due - now), timezone=UTC),
            id=WAKE_JOB,
            misfire_grace_time=3600,
            replace_existing=True,
        )
        log.debug("digest scheduler: next wake at %s", due.isoformat())

    async def _rebuild_quietly(self) -> None:
        """Rebuild after a run: a busy database is a warning; the next sweep tries again."""
        try:
            await self.rebuild()
        except Exception as exc:
            problem = database_problem(exc)
            if problem is None:
                raise
            log.warning("digest scheduler: %s; the next sweep tries again", problem.detail)

    def changed(self) -> None:
        """A subscription changed in this process: set the wake job again soon."""
        if not self.scheduler.running:
            return  # start() sets it
        self._stale = True
        if self._rebuilding is None or self._rebuilding.done():
            self._rebuilding = asyncio.get_running_loop().create_task(self._rebuild_changed())

    async def _rebuild_changed(self) -> None:
        while self._stale:
            self._stale = False
            await self._rebuild_quietly()

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs())

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop ticking, let the deliverer finish or hand back its in-flight work, and
        wait until the scheduler's own tasks have ended: the store closes after this,
        and a task left in a database call then would wait forever.

        Paused first, shut down last: APScheduler's shutdown cancels the job tasks still
        running, which would cut a run short and log the cancellation as a job's error."""
        if self.scheduler.running:
            self.scheduler.pause()  # no new wake; a wake under way goes on to its end
        await self.deliverer.shutdown(grace)
        if self._rebuilding is not None:
            self._rebuilding.cancel()  # it only sets the next wake, which no longer matters
        left = {t for t in (*self._wakes, self._rebuilding) if t is not None and not t.done()}
        if left:
            # A wake's run ends at once, the deliverer being closed; one still stuck (in a
            # platform call's timeout) is cut short, within Docker's 10 s with the grace.
            _, stuck = await asyncio.wait(left, timeout=WAKE_AFTER_GRACE)
            for task in stuck:
                task.cancel()
            if stuck:
                await asyncio.wait(stuck)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler finishes its shutdown on the loop
