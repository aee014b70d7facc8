"""The deliverer: posts what is due, each (subscription, week) exactly once.

Order of events for one weekly post:

1. claim the ledger row (BEGIN IMMEDIATE; only one worker anywhere gets it),
2. if an earlier attempt was interrupted, ask the platform whether it got the post,
3. post (bounded concurrency, Retry-After honoured, transient errors retried),
4. complete the row with the platform's message id, cover the pick, move the schedule,
5. post the discussion prompts (thread), which never causes a re-post.

A permanent platform error (channel gone, bot removed) pauses that subscription with the
reason, shown in `schedule`; other channels are not affected.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from roadmap_bot.catalog import Catalog
from roadmap_bot.clock import Clock
from roadmap_bot.digest import Digest, GroupState, ReadingAgenda, compose_digest, upcoming
from roadmap_bot.replies import Reply
from roadmap_bot.schedule import Schedule
from roadmap_bot.store.digests import (
    ClaimOutcome,
    Delivery,
    DeliveryState,
    DigestStore,
    Subscription,
)
from roadmap_bot.store.sqlite import SqliteStore

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=10)  # a claim older than this was abandoned by its worker
MAX_WEEKS_BACK = 520  # bound the catch-up scan after very long downtime
AGENDA_TIMEOUT = 3.0  # seconds a digest waits for a report's outline at most


class DeliveryError(Exception):
    """A platform refused a post. ``permanent``: retrying cannot help."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Poster(Protocol):
    """How one platform sends a digest. Adapters implement it; the deliverer decides."""

    platform: str  # the prefix of the channel ids it serves: 'slack', 'discord', 'console'
    min_interval: float  # seconds between two posts in one channel (Slack: 1 per second)

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        """Post a public message; return the platform's message id.

        Raise DeliveryError when the platform answered with a refusal. Any other exception
        means the outcome is unknown; the deliverer then looks (``find_post``) before
        posting again.
        """

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        """Post the discussion prompts under the message (thread reply / thread)."""

    async def find_post(self, channel: str, delivery_id: str, since: datetime) -> str | None:
        """The message id of a post carrying this delivery id, if the platform has one."""


AgendaSource = Callable[[str, float], Awaitable[ReadingAgenda | None]]


@dataclass
class RunSummary:
    delivered: int = 0
    already: int = 0
    failed: int = 0
    missed: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"delivered {self.delivered}, already delivered {self.already}, failed {self.failed}"
        return text + (f", missed {self.missed}" if self.missed else "")


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Deliverer:
    """Finds what is due and delivers it through the platform posters."""

    def __init__(
        self,
        catalog: Catalog,
        store: SqliteStore,
        clock: Clock,
        posters: Mapping[str, Poster],
        *,
        catchup: timedelta = timedelta(hours=24),
        concurrency: int = 64,
        attempts: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        agenda: AgendaSource | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.digests = DigestStore(store)
        self.clock = clock
        self.posters = dict(posters)
        self.catchup = catchup
        self.attempts = attempts
        self.sleep = sleep
        self.agenda = agenda
        self.worker = _worker_id()
        self._slots = asyncio.Semaphore(concurrency)
        self._run_lock = asyncio.Lock()

    # -- what is due ---------------------------------------------------------------------

    async def run_due(self, now: datetime | None = None) -> RunSummary:
        """Deliver everything due at ``now`` (default: the clock). Safe to run repeatedly."""
        now = now or self.clock.now()
        summary = RunSummary()
        async with self._run_lock:
            subs = await self.digests.due(now)
            summary.already = await self.digests.sent_between(now - self.catchup, now)
            await asyncio.gather(*(self._handle(sub, now, summary) for sub in subs))
        if subs:
            log.info("digests at %s: %s", now.isoformat(), summary.line())
        return summary

    async def _handle(self, sub: Subscription, now: datetime, summary: RunSummary) -> None:
        poster = self.posters.get(sub.channel.split(":", 1)[0])
        if poster is None:
            return  # this process does not serve that platform; one that does will
        try:
            await self._handle_weeks(sub, now, poster, summary)
        except Exception:  # one channel's bug must not stop the others
            log.exception("delivering to %s failed", sub.channel)
            summary.failed += 1

    async def _handle_weeks(
        self, sub: Subscription, now: datetime, poster: Poster, summary: RunSummary
    ) -> None:
        schedule = sub.schedule
        weeks: list[tuple[date, datetime]] = []
        for week, due in schedule.occurrences_after(sub.next_due_at - timedelta(microseconds=1)):
            if due > now or len(weeks) >= MAX_WEEKS_BACK:
                break
            weeks.append((week, due))
        if not weeks:
            await self.digests.advance(sub.id, schedule.next_after(now)[1])
            return
        *older, (week, due) = weeks
        paused = [w for w in weeks if sub.paused_until and w[0] < sub.paused_until]
        missed = [w for w in older if w not in paused]
        latest_paused = (week, due) in paused
        too_late = now - due > self.catchup
        if not latest_paused and too_late:
            missed.append((week, due))
        next_due = schedule.next_after(due)[1]
        deliver = not latest_paused and not too_late
        if paused or missed:
            upto = due if deliver else next_due  # the schedule moves past what is recorded
            if paused:
                await self.digests.record(sub, paused, DeliveryState.PAUSED, upto)
            if missed:
                summary.missed += await self.digests.record(sub, missed, DeliveryState.MISSED, upto)
        if deliver:
            await self._deliver(sub, week, due, next_due, now, poster, summary)

    # -- one post ------------------------------------------------------------------------

    async def _deliver(
        self,
        sub: Subscription,
        week: date,
        due: datetime,
        next_due: datetime,
        now: datetime,
        poster: Poster,
        summary: RunSummary,
    ) -> None:
        digest = await self.compose(sub)
        claim = await self.digests.claim(
            sub, week, due, digest.kind, digest.project, self.worker, now, STALE_CLAIM
        )
        if claim.outcome in (ClaimOutcome.DONE, ClaimOutcome.BUSY):
            summary.already += 1
            return
        delivery = claim.delivery
        if claim.outcome is ClaimOutcome.RETRY:
            found = await self._find(poster, sub, delivery)
            if found is not None:
                log.info("delivery %s had reached %s already", delivery.id, sub.channel)
                await self._complete(sub, delivery, digest, found, now, next_due)
                summary.delivered += 1
                if digest.discussion is not None:  # the crash came before the prompts
                    await self._discuss(poster, sub, delivery, digest, found)
                return
        message_id = await self._send(
            lambda: poster.post(sub.channel, digest.message, delivery.id),
            sub,
            delivery,
            poster,
            summary,
        )
        if message_id is None:
            return
        posted_at = asyncio.get_running_loop().time()
        await self._complete(sub, delivery, digest, message_id, now, next_due)
        summary.delivered += 1
        if digest.discussion is not None:
            wait = poster.min_interval - (asyncio.get_running_loop().time() - posted_at)
            if wait > 0:
                await self.sleep(wait)
            await self._discuss(poster, sub, delivery, digest, message_id)

    async def _complete(
        self,
        sub: Subscription,
        delivery: Delivery,
        digest: Digest,
        message_id: str,
        now: datetime,
        next_due: datetime,
    ) -> None:
        await self.digests.complete(delivery, message_id, now, next_due, digest.project)
        if digest.kind == "completion":
            await self.digests.end(sub.id, "completed", now)

    async def _find(self, poster: Poster, sub: Subscription, delivery: Delivery) -> str | None:
        since = delivery.due_at - timedelta(hours=1)
        try:
            async with self._slots:
                return await poster.find_post(sub.channel, delivery.id, since)
        except DeliveryError as problem:
            # Unsure whether it went out: better a (rare) duplicate than a lost week.
            log.warning("could not check %s for %s: %s", sub.channel, delivery.id, problem)
            return None

    async def _send(
        self,
        call: Callable[[], Awaitable[str]],
        sub: Subscription,
        delivery: Delivery,
        poster: Poster,
        summary: RunSummary,
    ) -> str | None:
        """Post with retries; a permanent error pauses the subscription with its reason."""
        reason = "unknown error"
        for attempt in range(self.attempts):
            try:
                async with self._slots:
                    return await call()
            except DeliveryError as problem:
                reason = problem.reason
                if problem.permanent:
                    await self.digests.fail(delivery, reason)
                    await self.digests.set_problem(sub.id, reason)
                    summary.failed += 1
                    summary.problems.append(f"{sub.channel}: {reason}")
                    log.warning("digest for %s paused: %s", sub.channel, reason)
                    return None
                delay = problem.retry_after
            except Exception as problem:
                # No answer (connection lost, timeout): the post may have gone through.
                # Look before posting again, or a retry could post the week twice.
                reason = f"{type(problem).__name__}: {problem}"
                delay = None
                found = await self._find(poster, sub, delivery)
                if found is not None:
                    return found
            if attempt + 1 < self.attempts:
                await self.sleep(delay if delay is not None else 0.5 * 2**attempt)
        await self.digests.fail(delivery, reason)
        summary.failed += 1
        summary.problems.append(f"{sub.channel}: {reason}")
        log.warning(
            "digest for %s failed after %d attempts: %s", sub.channel, self.attempts, reason
        )
        return None

    async def _discuss(
        self, poster: Poster, sub: Subscription, delivery: Delivery, digest: Digest, message_id: str
    ) -> None:
        for attempt in range(self.attempts):
            try:
                async with self._slots:
                    await poster.post_discussion(sub.channel, message_id, digest, delivery.id)
                return
            except DeliveryError as problem:
                if problem.permanent or attempt + 1 == self.attempts:
                    await self.digests.note(delivery, f"discussion not posted: {problem.reason}")
                    log.warning("discussion for %s not posted: %s", sub.channel, problem.reason)
                    return
                await self.sleep(problem.retry_after or 0.5 * 2**attempt)

    # -- composing -------------------------------------------------------------------------

    async def group_state(self, channel: str) -> GroupState:
        covered = await self.digests.covered(channel)
        sent = [
            d
            for d in reversed(await self.digests.deliveries(channel, limit=200))
            if d.state is DeliveryState.SENT and d.project
        ]
        members = await self.digests.members(channel)
        marks = await self.store.progress_of(members)
        names = await self.store.user_names(members)
        return GroupState(covered, [d.project for d in sent if d.project], marks, names)

    async def compose(self, sub: Subscription) -> Digest:
        """The digest this subscription would get now."""
        state = await self.group_state(sub.channel)
        _, pick = upcoming(self.catalog, sub.target, state.covered)
        agenda = last_agenda = None
        if self.agenda is not None and pick is not None:
            agenda = await self._agenda(pick)
            if state.posted:
                last_agenda = await self._agenda(state.posted[-1])
        return compose_digest(self.catalog, sub, state, agenda, last_agenda)

    async def _agenda(self, slug: str) -> ReadingAgenda | None:
        assert self.agenda is not None
        try:
            return await asyncio.wait_for(self.agenda(slug, AGENDA_TIMEOUT), AGENDA_TIMEOUT + 1)
        except Exception as problem:  # a digest never fails because of a report
            log.warning("no reading agenda for %s: %s", slug, problem)
            return None


def next_posts(schedule: Schedule, now: datetime, count: int = 4) -> list[datetime]:
    """The next ``count`` post instants (UTC)."""
    out = []
    for _, instant in schedule.occurrences_after(now):
        out.append(instant)
        if len(out) == count:
            break
    return out
