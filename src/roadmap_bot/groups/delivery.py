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

from roadmap_bot import metrics
from roadmap_bot.chat.replies import Reply
from roadmap_bot.clock import Clock
from roadmap_bot.groups.digest import (
    Digest,
    GroupState,
    ReadingAgenda,
    agenda_slugs,
    compose_digest,
)
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.learning.catalog import Catalog
from roadmap_bot.store.digests import (
    Claim,
    ClaimOutcome,
    ClaimRequest,
    Completion,
    Delivery,
    DeliveryState,
    DigestStore,
    Recorded,
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
        """Deliver everything due at ``now`` (default: the clock). Safe to run repeatedly.

        The ledger work is batched: one transaction records the missed and paused weeks,
        one claims every post of the run, and completions are committed together as
        posts come back, so a run over thousands of channels costs a few dozen commits.
        """
        now = now or self.clock.now()
        summary = RunSummary()
        async with self._run_lock:
            subs = [s for s in await self.digests.due(now) if self._poster(s) is not None]
            summary.already = await self.digests.sent_between(now - self.catchup, now)
            plans = [self._plan(sub, now) for sub in subs]
            summary.missed = await self.digests.record_many(
                [p.missed for p in plans if p.missed is not None]
            )
            await self.digests.record_many([p.paused for p in plans if p.paused is not None])
            due = [p for p in plans if p.week is not None]
            claims = await self.digests.claim_many(
                [ClaimRequest(p.sub, p.week, p.due) for p in due if p.week is not None],
                self.worker,
                now,
                STALE_CLAIM,
            )
            work = []
            for plan, claim in zip(due, claims, strict=True):
                if claim.outcome in (ClaimOutcome.DONE, ClaimOutcome.BUSY):
                    summary.already += 1
                else:
                    work.append((plan, claim))
            states = await self.group_states([plan.sub.channel for plan, _ in work])
            batch = _Completions(self.digests)
            await asyncio.gather(
                *(
                    self._counted(plan, claim, states[plan.sub.channel], now, batch, summary)
                    for plan, claim in work
                )
            )
        if subs:
            log.info("digests at %s: %s", now.isoformat(), summary.line())
        return summary

    def _poster(self, sub: Subscription) -> Poster | None:
        # None: this process does not serve that platform; one that does will post it.
        return self.posters.get(sub.channel.split(":", 1)[0])

    def _plan(self, sub: Subscription, now: datetime) -> _Plan:
        """Which weeks since the last handled one to post, record as missed or as paused."""
        schedule = sub.schedule
        weeks: list[tuple[date, datetime]] = []
        for week, due in schedule.occurrences_after(sub.next_due_at - timedelta(microseconds=1)):
            if due > now or len(weeks) >= MAX_WEEKS_BACK:
                break
            weeks.append((week, due))
        if not weeks:  # nothing was due after all (the schedule changed): just move on
            after = schedule.next_after(now)[1]
            return _Plan(sub, missed=Recorded(sub, [], DeliveryState.MISSED, after))
        *older, (week, due) = weeks
        paused = [w for w in weeks if sub.paused_until and w[0] < sub.paused_until]
        missed = [w for w in older if w not in paused]
        latest_paused = (week, due) in paused
        too_late = now - due > self.catchup
        if not latest_paused and too_late:
            missed.append((week, due))
        next_due = schedule.next_after(due)[1]
        deliver = not latest_paused and not too_late
        upto = due if deliver else next_due  # the schedule moves past what is recorded
        return _Plan(
            sub,
            week=week if deliver else None,
            due=due,
            next_due=next_due,
            missed=Recorded(sub, missed, DeliveryState.MISSED, upto) if missed else None,
            paused=Recorded(sub, paused, DeliveryState.PAUSED, upto) if paused else None,
        )

    # -- one post ------------------------------------------------------------------------

    async def _counted(
        self,
        plan: _Plan,
        claim: Claim,
        state: GroupState,
        now: datetime,
        batch: _Completions,
        summary: RunSummary,
    ) -> None:
        """``_deliver``, seen by /metrics as in progress while it runs, then as its outcome."""
        platform = plan.sub.channel.split(":", 1)[0]
        metrics.digests_in_progress(platform, 1)
        try:
            await self._deliver(plan, claim, state, now, batch, summary)
        finally:
            metrics.digests_in_progress(platform, -1)

    async def _deliver(
        self,
        plan: _Plan,
        claim: Claim,
        state: GroupState,
        now: datetime,
        batch: _Completions,
        summary: RunSummary,
    ) -> None:
        sub, delivery = plan.sub, claim.delivery
        poster = self._poster(sub)
        assert poster is not None
        try:
            digest = await self._compose(sub, state)
            if claim.outcome is ClaimOutcome.RETRY:
                found = await self._find(poster, sub, delivery)
                if found is not None:
                    log.info("delivery %s had reached %s already", delivery.id, sub.channel)
                    await batch.add(_completion(delivery, digest, found, now, plan.next_due))
                    summary.delivered += 1
                    metrics.digest(poster.platform, "delivered")
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
            await batch.add(_completion(delivery, digest, message_id, now, plan.next_due))
            summary.delivered += 1
            metrics.digest(poster.platform, "delivered")
        except Exception:  # one channel's bug must not stop the others
            log.exception("delivering to %s failed", sub.channel)
            summary.failed += 1
            metrics.digest(poster.platform, "failed")
            return
        if digest.discussion is not None:
            wait = poster.min_interval - (asyncio.get_running_loop().time() - posted_at)
            if wait > 0:
                await self.sleep(wait)
            await self._discuss(poster, sub, delivery, digest, message_id)

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
                    metrics.digest(poster.platform, "failed")
                    summary.problems.append(f"{sub.channel}: {reason}")
                    log.warning("digest for %s paused: %s", sub.channel, reason)
                    return None
                delay = problem.retry_after
                if delay is not None:
                    metrics.rate_limited(poster.platform)
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
        metrics.digest(poster.platform, "failed")
        summary.problems.append(f"{sub.channel}: {reason}")
        log.warning(
            "digest for %s failed after %d attempts: %s", sub.channel, self.attempts, reason
        )
        return None

    async def _discuss(
        self, poster: Poster, sub: Subscription, delivery: Delivery, digest: Digest, message_id: str
    ) -> None:
        """The prompts under the post. The digest is out already: this never fails the run."""
        for attempt in range(self.attempts):
            try:
                async with self._slots:
                    await poster.post_discussion(sub.channel, message_id, digest, delivery.id)
                return
            except DeliveryError as problem:
                reason, permanent, delay = problem.reason, problem.permanent, problem.retry_after
                if delay is not None:
                    metrics.rate_limited(poster.platform)
            except Exception as problem:  # no answer: posting the prompts again is harmless
                reason, permanent, delay = f"{type(problem).__name__}: {problem}", False, None
            if permanent or attempt + 1 == self.attempts:
                await self.digests.note(delivery, f"discussion not posted: {reason}")
                log.warning("discussion for %s not posted: %s", sub.channel, reason)
                return
            await self.sleep(delay if delay is not None else 0.5 * 2**attempt)

    # -- composing -------------------------------------------------------------------------

    async def group_states(self, channels: list[str]) -> dict[str, GroupState]:
        """What composing needs to know about many channels, in a few queries."""
        facts = await self.digests.channel_facts(channels)
        members = list(dict.fromkeys(m for f in facts.values() for m in f.members))
        marks = await self.store.progress_of(members)
        names = await self.store.user_names(members)
        return {
            channel: GroupState(
                f.covered,
                f.posted,
                {m: marks[m] for m in f.members},
                {m: names[m] for m in f.members if m in names},
            )
            for channel, f in facts.items()
        }

    async def compose(self, sub: Subscription) -> Digest:
        """The digest this subscription would get now."""
        states = await self.group_states([sub.channel])
        return await self._compose(sub, states[sub.channel])

    async def _compose(self, sub: Subscription, state: GroupState) -> Digest:
        agendas: dict[str, ReadingAgenda] = {}
        if self.agenda is not None:
            slugs = agenda_slugs(self.catalog, sub.target, state)
            found = await asyncio.gather(*(self._agenda(s) for s in slugs))
            agendas = {s: a for s, a in zip(slugs, found, strict=True) if a is not None}
        return compose_digest(self.catalog, sub, state, agendas)

    async def _agenda(self, slug: str) -> ReadingAgenda | None:
        assert self.agenda is not None
        try:
            return await asyncio.wait_for(self.agenda(slug, AGENDA_TIMEOUT), AGENDA_TIMEOUT + 1)
        except Exception as problem:  # a digest never fails because of a report
            log.warning("no reading agenda for %s: %s", slug, problem)
            return None


@dataclass
class _Plan:
    """One due subscription in a run: what to post, and what to record as not posted."""

    sub: Subscription
    week: date | None = None  # the week to post; None: nothing to post now
    due: datetime = datetime.min
    next_due: datetime = datetime.min
    missed: Recorded | None = None
    paused: Recorded | None = None


def _completion(
    delivery: Delivery, digest: Digest, message_id: str, now: datetime, next_due: datetime
) -> Completion:
    return Completion(delivery, message_id, now, next_due, digest.kind, digest.project)


class _Completions:
    """Group commit for a run's completions.

    Posts come back one by one; each waits until its completion is committed. While one
    transaction is being written, the next completions gather, then go in together.
    """

    def __init__(self, digests: DigestStore) -> None:
        self.digests = digests
        self.pending: list[tuple[Completion, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def add(self, completion: Completion) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((completion, done))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let completions of this same moment join the first batch
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await self.digests.complete_many([c for c, _ in batch])
            except Exception as problem:
                for _, done in batch:
                    done.set_exception(problem)
            else:
                for _, done in batch:
                    done.set_result(None)


def next_posts(schedule: Schedule, now: datetime, count: int = 4) -> list[datetime]:
    """The next ``count`` post instants (UTC)."""
    out = []
    for _, instant in schedule.occurrences_after(now):
        out.append(instant)
        if len(out) == count:
            break
    return out
