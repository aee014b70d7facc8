"""APScheduler wakes the deliverer; the ledger, not the scheduler, decides what is posted.

Jobs live in memory and are rebuilt from our subscriptions table at start-up and after
every change: one CronTrigger per subscription, in the subscription's own zone, plus a
sweep every few minutes that catches what another process changed, retries failures
within the catch-up window and covers any DST edge the cron arithmetic treats
differently from ours. At start-up one run delivers what was missed while down
(:meth:`DigestScheduler.catch_up`, which ``serve`` runs beside its adapters, never before
them: /healthz and commands answer during it).

Runs are not serialised: each tick delivers on its own, and the ledger's leases keep two
runs (here or in another process) from sending the same week, so a channel waiting out a
Retry-After never holds up another's digest. Ticks of one minute share a run, though:
every subscription on a popular slot fires its own job at the same instant, and a job
whose minute an unfinished run already covers waits for that run instead of starting
another (20,000 subscriptions at Monday 09:00 make one run, not 20,000).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from roadmap_bot.groups.delivery import SHUTDOWN_GRACE, Deliverer, RunSummary
from roadmap_bot.store.digests import Subscription
from roadmap_bot.store.problems import database_problem

log = logging.getLogger(__name__)

SWEEP_MINUTES = 5
JOB_PREFIX = "digest:"


def cron_for(sub: Subscription) -> CronTrigger:
    """The subscription's weekly slot, evaluated in its own time zone."""
    schedule = sub.schedule
    return CronTrigger(
        day_of_week=schedule.weekday,  # APScheduler: 0 = Monday, like ours
        hour=schedule.at.hour,
        minute=schedule.at.minute,
        timezone=schedule.tz,
    )


class DigestScheduler:
    """Keeps one cron job per active subscription and a periodic sweep."""

    def __init__(self, deliverer: Deliverer, sweep_minutes: float = SWEEP_MINUTES) -> None:
        self.deliverer = deliverer
        self.sweep_minutes = sweep_minutes
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._rebuilding: asyncio.Task[None] | None = None
        self._current: tuple[datetime, asyncio.Future[RunSummary]] | None = None  # timed run

    async def start(self) -> None:
        """Build the jobs and start ticking (then call :meth:`catch_up`)."""
        # Started first: before that APScheduler only queues jobs and would not
        # replace one queued under the same id. Callable again after a failed rebuild
        # (serve retries it while the database is busy).
        if not self.scheduler.running:
            self.scheduler.start()
        await self.rebuild()
        self.scheduler.add_job(
            self._job,
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
        return summary

    async def tick(self) -> RunSummary:
        return await self.deliverer.run_due()

    async def _job(self) -> None:
        """A timed run. A database another process holds past the busy timeout is a
        warning, not a traceback: nothing was claimed, and the next run (the sweep within
        minutes) tries again."""
        # Cron jobs fire on the minute (APScheduler's wall clock): a run begun at or after
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

    async def rebuild(self) -> None:
        subs = await self.deliverer.digests.active()
        wanted = {f"{JOB_PREFIX}{sub.id}": sub for sub in subs}
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                job.remove()
        for job_id, sub in wanted.items():
            self.scheduler.add_job(
                self._job,
                cron_for(sub),
                id=job_id,
                coalesce=True,  # several missed firings: one run
                max_instances=1,
                misfire_grace_time=3600,
                replace_existing=True,
            )
        log.info("digest scheduler: %d subscription(s)", len(wanted))

    def changed(self) -> None:
        """A subscription changed in this process: rebuild the jobs soon."""
        if not self.scheduler.running:
            return  # start() builds them
        if self._rebuilding is None or self._rebuilding.done():
            self._rebuilding = asyncio.get_running_loop().create_task(self.rebuild())

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs())

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop ticking, then let the deliverer finish or hand back its in-flight work."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler finishes its shutdown on the loop
        await self.deliverer.shutdown(grace)
