"""The deliverer: posts what is due, each (subscription, week) exactly once.

Order of events for one weekly post:

1. claim the ledger row as a lease (an owner id per run, and an expiry): one worker at a
   time holds it; the run renews its leases while it works;
2. if an earlier attempt may have reached the platform (a taken-over claim, a lost or
   ambiguous answer), ask the platform (the channel's history) before anything else;
3. fence: renew the lease by compare-and-set on the owner right before posting; a worker
   whose lease was taken over never posts;
4. post, with bounded concurrency. A Retry-After is waited out for that delivery alone,
   with the lease extended past the wait; above ``retry_after_cap`` the claim is handed
   back with a not-before time instead. Nothing is shared between deliveries but the
   concurrency slots, and no delivery holds a slot while it waits;
5. complete the row (compare-and-set again) with the platform's message id, cover the
   pick, move the schedule;
6. post the discussion prompts (thread): the row owes them until they are out, and a
   worker that takes the row over finishes them.

Claims whose worker died are taken over by the next run, whatever their week: found on the
platform or posted, they end sent; too late to post, they end missed with the reason, shown
in ``schedule``. A permanent platform error (channel gone, bot removed) pauses that
subscription with the reason; other channels are not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

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
from roadmap_bot.groups.news import GroupNews
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.learning.catalog import Catalog
from roadmap_bot.retry import backoff
from roadmap_bot.store.digests import (
    DISCUSSION_PENDING,
    ClaimOutcome,
    ClaimRequest,
    Completion,
    Delivery,
    DeliveryState,
    DigestStore,
    DueSubscription,
    Lease,
    Recorded,
    Subscription,
    platform_of,
)
from roadmap_bot.store.sql import SqlStore

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a claim's lease; longer than any one platform request
RENEWALS_PER_LEASE = 4  # a run renews its leases this often per lease length
RETRY_AFTER_CAP = 60.0  # seconds; a longer Retry-After hands the claim back, not awaited
RETRY_BACKOFF = (0.5, 30.0)  # seconds: the first wait before posting again, and the longest
MAX_WEEKS_BACK = 520  # bound the catch-up scan after very long downtime
AGENDA_TIMEOUT = 3.0  # seconds a digest waits for a report's outline at most
SHUTDOWN_GRACE = 5.0  # seconds in-flight deliveries get to finish when shutting down
# A run claims posts CLAIM_BATCH at a time, and only while fewer than WINDOW of its digests
# are being built or posted: memory stays flat in the channel count, and a second worker
# on the same slot finds rows left to claim. WINDOW keeps the concurrency slots busy.
CLAIM_BATCH = 128
WINDOW = 512
FIRST_CLAIM = 16  # a run's first claim; each next one twice as large, up to CLAIM_BATCH
FIRST_FENCE_WAIT = 1.0  # seconds a run's second claim waits at most for its first fence

T = TypeVar("T")


class DeliveryError(Exception):
    """A platform refused a post. ``permanent``: retrying cannot help. ``unknown``: the
    answer does not say whether the post was made (Slack's internal_error, a 5xx): the
    channel is checked before any retry."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        unknown: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.unknown = unknown


class Poster(Protocol):
    """How one platform sends a digest. Adapters implement it; the deliverer decides."""

    platform: str  # the prefix of the channel ids it serves: 'slack', 'discord', 'console'
    min_interval: float  # seconds between two posts in one channel (Slack: 1 per second)

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        """Post a public message; return the platform's message id.

        Raise DeliveryError when the platform answered with a refusal (``unknown=True``
        when the answer may hide a success). Any other exception means the outcome is
        unknown; the deliverer then looks (``find_post``) before posting again.
        """

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        """Post the discussion prompts under the message (thread reply / thread)."""

    async def find_post(self, channel: str, delivery_id: str, since: datetime) -> str | None:
        """The message id of a post carrying this delivery id, if the platform has one."""

    async def find_discussion(self, channel: str, message_id: str, delivery_id: str) -> bool:
        """Whether the prompts under that message were posted already."""


AgendaSource = Callable[[str, float], Awaitable[ReadingAgenda | None]]
# (subscriptions, channel -> members) -> channel -> what the post says about the group
NewsSource = Callable[
    [Sequence[Subscription], Mapping[str, Sequence[str]]], Awaitable[dict[str, GroupNews]]
]


@dataclass
class RunSummary:
    delivered: int = 0
    already: int = 0
    failed: int = 0
    missed: int = 0
    in_progress: int = 0  # claimed and being sent by another worker (or left for one)
    rescheduled: int = 0  # the platform asked for a wait above the cap: retried later
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"delivered {self.delivered}, already delivered {self.already}, failed {self.failed}"
        for label, count in (
            ("in progress", self.in_progress),
            ("rescheduled", self.rescheduled),
            ("missed", self.missed),
        ):
            if count:
                text += f", {label} {count}"
        return text


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Deliverer:
    """Finds what is due and delivers it through the platform posters."""

    def __init__(
        self,
        catalog: Catalog,
        store: SqlStore,
        clock: Clock,
        posters: Mapping[str, Poster],
        *,
        catchup: timedelta = timedelta(hours=24),
        concurrency: int = 64,
        attempts: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        agenda: AgendaSource | None = None,
        lease: timedelta = LEASE,
        retry_after_cap: float = RETRY_AFTER_CAP,
        renew_every: float | None = None,  # seconds; default: a quarter of the lease
        window: int = WINDOW,
        claim_batch: int = CLAIM_BATCH,
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
        # What the post says about the group (activity, streaks, page link); set by
        # the group view feature when it is wired.
        self.news: NewsSource | None = None
        self.lease = lease
        self.retry_after_cap = retry_after_cap
        self.renew_every = renew_every or lease.total_seconds() / RENEWALS_PER_LEASE
        self.window = window
        self.claim_batch = min(claim_batch, window)
        self.worker = _worker_id()
        self._runs = itertools.count(1)
        self._owners: list[str] = []  # every owner id this deliverer's runs used
        self._inflight: set[asyncio.Task[None]] = set()
        self._closing = False
        self._slots = asyncio.Semaphore(concurrency)

    # -- what is due ---------------------------------------------------------------------

    async def run_due(self, now: datetime | None = None) -> RunSummary:
        """Deliver everything due at ``now`` (default: the clock), and take over what dead
        workers left unfinished. Safe to run repeatedly, and side by side.

        The run streams: due subscriptions are read a batch at a time, and posts are
        claimed in batches (the first of FIRST_CLAIM rows, so that the first digest starts
        at once, then growing to ``claim_batch``), each only once the run has room for it
        (at most ``window`` digests built or being posted at once). Memory stays flat in
        the channel count, and two workers on one slot split it instead of one claiming
        everything. Ledger work stays batched: a transaction records a read batch's
        missed and paused weeks, one claims each claim batch, and fences and completions
        are committed together as posts go and come back.
        """
        summary = RunSummary()
        if self._closing:
            return summary
        now = now or self.clock.now()
        run = _Run(self, f"{self.worker}/{next(self._runs)}", now, summary)
        self._owners.append(run.owner)
        # Counted beside the selection, not before it: the first digest need not wait.
        already = asyncio.ensure_future(self.digests.sent_between(now - self.catchup, now))
        selected = False
        try:
            # Posts within the catch-up window first: after downtime the older rows are
            # mostly weeks to record as missed, and the first digest need not wait for them.
            batches = self.digests.due_batches(
                now, recent_after=now - self.catchup, first=run.claim_size
            )
            async for batch in batches:
                if self._closing:
                    break
                # a subscription whose schedule this run moved to a week still due may be
                # read again further on: it was handled once
                subs = [s for s in batch if s.id not in run.moved and self._poster(s) is not None]
                selected = selected or bool(subs)
                await self._claim_due(run, [run.plan(s) for s in subs])
            if not run.claimed and not self._closing:
                # nothing due: the run still takes the write lock once (as a claim of
                # nothing), so that a database it cannot write shows now, not at a post
                await self.digests.claim_many([], run.owner, now, self.lease)
            if not self._closing:
                recovered = [
                    await self._recovery(taken, now)
                    for taken in await self.digests.take_abandoned(
                        run.owner, now, self.lease, platforms=list(self.posters)
                    )
                ]
                for job in recovered:
                    metrics.lease_takeover(platform_of(job.delivery.channel))
                await self._start(run, recovered)
            await run.finish()
            summary.already += await already
        finally:
            # Nothing of the run outlives it: a task cancelled mid-way through a database
            # call still has to unwind it, and one left doing so when the store closed
            # waited forever (the process never exited).
            await run.stop(already)
        if selected or run.started:
            log.info("digests at %s: %s", now.isoformat(), summary.line())
        return summary

    async def _claim_due(self, run: _Run, plans: list[_Plan]) -> None:
        """Claim and start the posts of these plans, a claim batch at a time as the run has
        room, and record the weeks they will not post. The records come after the first
        claim: after downtime most due rows have a week to record as missed, and the
        first digest need not wait for them (a run that stops in between leaves them to
        the next run, which records them the same way)."""
        summary = run.summary
        due = [p for p in plans if p.week is not None]
        unrecorded = True
        start = 0
        while start < len(due):
            # The first claims of a run are small, then they grow to claim_batch: the first
            # digest starts after a claim of a few rows, not of a whole batch.
            chunk = due[start : start + run.claim_size]
            start += len(chunk)
            run.claim_size = min(run.claim_size * 2, self.claim_batch)
            await run.after_first_fence()
            await run.room.wait_for(len(chunk))
            if self._closing:
                return
            claims = await self.digests.claim_many(
                [ClaimRequest(p.sub, p.week, p.due) for p in chunk if p.week is not None],
                run.owner,
                run.start,
                self.lease,
            )
            run.claimed = True
            if self._closing:  # shut down meanwhile: the next worker takes them at once
                await self.digests.release(run.owner, [c.delivery.id for c in claims])
                return
            ours: list[tuple[_Plan, Delivery, bool]] = []
            for plan, claim in zip(chunk, claims, strict=True):
                if claim.outcome is ClaimOutcome.DONE:
                    summary.already += 1
                elif claim.outcome is ClaimOutcome.BUSY:
                    summary.in_progress += 1
                elif claim.outcome is ClaimOutcome.LATER:
                    summary.rescheduled += 1
                else:
                    check = claim.outcome is ClaimOutcome.RETRY
                    if check and claim.delivery.state is DeliveryState.CLAIMED:
                        metrics.lease_takeover(platform_of(plan.sub.channel))
                    ours.append((plan, claim.delivery, check))
            if ours:
                # the whole subscription (its target, ...) is read only for the posts we hold
                full = await self.digests.subscriptions([d.subscription_id for _, d, _ in ours])
                jobs = [
                    _Job(full[d.subscription_id], d, plan.next_due, check=check)
                    for plan, d, check in ours
                ]
                await self._start(run, jobs)
            if unrecorded:
                unrecorded = False
                await self._record(run, plans)
        if unrecorded:
            await self._record(run, plans)

    async def _record(self, run: _Run, plans: list[_Plan]) -> None:
        """The weeks these plans will not post: missed, or paused (schedules move on)."""
        if not any(p.missed or p.paused for p in plans):
            return
        await run.after_first_fence()
        run.summary.missed += await self.digests.record_many(
            [p.missed for p in plans if p.missed is not None]
        )
        await self.digests.record_many([p.paused for p in plans if p.paused is not None])

    async def _start(self, run: _Run, jobs: list[_Job]) -> None:
        """Start delivering ``jobs``: each builds its digest when its task runs."""
        if not jobs:
            return
        subs = list({j.sub.channel: j.sub for j in jobs}.values())
        states = await self.group_states([s.channel for s in subs], subs)
        if self._closing:
            # Shut down meanwhile, after it gathered the tasks to wait for: these would
            # run on unwatched. Handed back, the next worker takes them at once.
            await self.digests.release(run.owner, [j.delivery.id for j in jobs])
            return
        run.held.update(j.delivery.id for j in jobs)
        run.room.take(len(jobs))
        if run.renewer is None:
            run.renewer = asyncio.create_task(self._renew(run))
        for job in jobs:
            task = asyncio.create_task(self._deliver(job, states[job.sub.channel], run))
            run.tasks.add(task)
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            task.add_done_callback(run.done)
        run.started += len(jobs)

    async def _renew(self, run: _Run) -> None:
        """Keep the run's leases alive while it works (queued deliveries included)."""
        while True:
            await asyncio.sleep(self.renew_every)
            ids = sorted(run.held)
            if not ids:
                continue
            kept = await self.digests.hold(
                [Lease(i, run.now() + self.lease) for i in ids], run.owner
            )
            run.held.intersection_update(kept)

    async def shutdown(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop taking work; give in-flight deliveries ``grace`` seconds to finish, cancel
        the rest and hand their leases back, so the next worker takes them over at once
        (checking the platform first). Later ``run_due`` calls do nothing."""
        self._closing = True
        tasks = set(self._inflight)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        released = 0
        for owner in self._owners:
            released += await self.digests.release(owner)
        if released:
            log.info("shutting down: %d unfinished deliveries handed back", released)

    def _poster(self, sub: Subscription | DueSubscription) -> Poster | None:
        # None: this process does not serve that platform; one that does will post it.
        return self.posters.get(platform_of(sub.channel))

    async def _recovery(self, delivery: Delivery, now: datetime) -> _Job:
        """A row a dead (or stopped) worker left: what finishing it means now."""
        sub = await self.digests.subscription_by_id(delivery.subscription_id)
        assert sub is not None  # deliveries reference their subscription
        next_due = sub.schedule.next_after(delivery.due_at)[1]
        if delivery.state is DeliveryState.SENT:  # only its thread reply is owed
            return _Job(sub, delivery, next_due, check=True, discussion_only=True)
        late = None
        if await self.digests.ended(sub.id):
            late = "not posted: the subscription ended before it could be sent"
        elif now - delivery.due_at > self.catchup:
            late = (
                "not posted: the worker sending it stopped, and it was found after the "
                "catch-up window"
            )
        log.info("taking over %s for %s", delivery.id, sub.channel)
        return _Job(sub, delivery, next_due, check=True, too_late=late)

    # -- one post ------------------------------------------------------------------------

    async def _deliver(self, job: _Job, state: GroupState, run: _Run) -> None:
        """``_deliver_one``, seen by /metrics as in progress while it runs."""
        platform = platform_of(job.sub.channel)
        metrics.digests_in_progress(platform, 1)
        try:
            await self._deliver_one(job, state, run)
        finally:
            metrics.digests_in_progress(platform, -1)
            run.held.discard(job.delivery.id)  # nothing more to renew
            run.leave(job)

    async def _deliver_one(self, job: _Job, state: GroupState, run: _Run) -> None:
        sub, delivery, summary = job.sub, job.delivery, run.summary
        poster = self._poster(sub)
        assert poster is not None
        try:
            if job.discussion_only:
                assert delivery.message_id is not None
                digest = await self._compose(sub, _before(state, delivery.project), run)
                await self._discuss(poster, job, digest, delivery.message_id, run, check=True)
                return
            digest = await self._compose(sub, state, run)
            sent = await self._send(job, digest, poster, run)
            if sent is None:
                return
            message_id, found = sent
            posted_at = asyncio.get_running_loop().time()
            owed = DISCUSSION_PENDING if digest.discussion is not None else None
            completion = Completion(
                delivery, message_id, run.start, job.next_due, digest.kind, digest.project, owed
            )
            if not await run.completions.add(completion):
                # Taken over while the post was under way: the new holder finds the post
                # (it checks before posting) and records it.
                summary.in_progress += 1
                return
            summary.delivered += 1
            metrics.digest(poster.platform, "delivered")
            run.leave(job)  # the post is out: room for the next one
        except Exception:  # one channel's bug must not stop the others
            log.exception("delivering to %s failed", sub.channel)
            summary.failed += 1
            metrics.digest(poster.platform, "failed")
            return
        if digest.discussion is not None:
            wait = poster.min_interval - (asyncio.get_running_loop().time() - posted_at)
            if wait > 0:
                await self.sleep(wait)
            # only a post found from an earlier attempt may have its prompts already
            await self._discuss(poster, job, digest, message_id, run, check=found)

    async def _find(self, poster: Poster, sub: Subscription, delivery: Delivery) -> str | None:
        """Ask the platform for the post; a failed lookup raises (never taken as 'absent')."""
        since = delivery.due_at - timedelta(hours=1)
        async with self._slots:
            return await poster.find_post(sub.channel, delivery.id, since)

    async def _send(
        self, job: _Job, digest: Digest, poster: Poster, run: _Run
    ) -> tuple[str, bool] | None:
        """Post with retries, looking first whenever an earlier attempt may have got
        through: (message id, found from an earlier attempt), or None when it ended
        otherwise (recorded in the ledger and the summary)."""
        sub, delivery, summary = job.sub, job.delivery, run.summary
        check = job.check
        reason = "unknown error"
        for attempt in range(self.attempts):
            delay: float | None = None
            try:
                if check:
                    found = await self._find(poster, sub, delivery)
                    check = False
                    if found is not None:
                        log.info("delivery %s had reached %s already", delivery.id, sub.channel)
                        return found, True
                if job.too_late is not None:
                    if await self.digests.miss(delivery, job.too_late, run.owner):
                        summary.missed += 1
                    else:
                        summary.in_progress += 1
                    return None
                if not await run.fence(delivery.id):
                    _taken_over(sub, delivery)
                    summary.in_progress += 1
                    return None
                async with self._slots:
                    return await poster.post(sub.channel, digest.message, delivery.id), False
            except DeliveryError as problem:
                reason = problem.reason
                if problem.permanent:
                    await self.digests.fail(delivery, reason, run.owner)
                    await self.digests.set_problem(sub.id, reason)
                    summary.failed += 1
                    metrics.digest(poster.platform, "failed")
                    summary.problems.append(f"{sub.channel}: {reason}")
                    log.warning("digest for %s paused: %s", sub.channel, reason)
                    return None
                check = check or problem.unknown
                delay = problem.retry_after
                if delay is not None:
                    metrics.rate_limited(poster.platform)
                if delay is not None and delay > self.retry_after_cap:
                    # Waiting would hold the claim (and a shutdown) for that long: hand it
                    # back with a time before which no run retries it.
                    at = run.now() + timedelta(seconds=delay)
                    text = f"{reason} (asked to wait {delay:g} s); retried after {at:%H:%M} UTC"
                    if await self.digests.reschedule(delivery, text, at, run.owner):
                        summary.rescheduled += 1
                    log.warning("digest for %s rescheduled: %s", sub.channel, text)
                    return None
            except Exception as problem:
                # No answer (connection lost, timeout): the post may have gone through.
                # Look before posting again, or a retry could post the week twice.
                reason = f"{type(problem).__name__}: {problem}"
                check = True
            if attempt + 1 < self.attempts:
                wait = delay if delay is not None else backoff(attempt, *RETRY_BACKOFF)
                # The lease must outlive the wait, or another worker could take it meanwhile.
                if not await run.fence(delivery.id, timedelta(seconds=wait)):
                    _taken_over(sub, delivery)  # found before the wait as after it
                    summary.in_progress += 1
                    return None
                run.leave(job)  # waiting takes no room from other deliveries
                await self.sleep(wait)
                run.enter(job)
        if await self.digests.fail(delivery, reason, run.owner):
            summary.failed += 1
            metrics.digest(poster.platform, "failed")
            summary.problems.append(f"{sub.channel}: {reason}")
            log.warning(
                "digest for %s failed after %d attempts: %s", sub.channel, self.attempts, reason
            )
        else:
            summary.in_progress += 1
        return None

    async def _discuss(
        self,
        poster: Poster,
        job: _Job,
        digest: Digest,
        message_id: str,
        run: _Run,
        *,
        check: bool,
    ) -> None:
        """The prompts under the post. The digest is out already: this never fails the run.
        The row owes them until they are out; a worker taking it over finishes them."""
        sub, delivery = job.sub, job.delivery
        error: str | None = None
        for attempt in range(self.attempts):
            try:
                if check:
                    async with self._slots:
                        found = await poster.find_discussion(sub.channel, message_id, delivery.id)
                    check = False
                    if found:
                        break
                if not await run.fence(delivery.id):
                    return  # taken over: the new holder finishes the thread
                async with self._slots:
                    await poster.post_discussion(sub.channel, message_id, digest, delivery.id)
                break
            except DeliveryError as problem:
                reason, permanent, delay = problem.reason, problem.permanent, problem.retry_after
                check = check or problem.unknown
                if delay is not None:
                    metrics.rate_limited(poster.platform)
            except Exception as problem:  # no answer: it may be there
                reason, permanent, delay = f"{type(problem).__name__}: {problem}", False, None
                check = True
            if permanent:
                error = f"discussion not posted: {reason}"
                log.warning("discussion for %s not posted: %s", sub.channel, reason)
                break
            if attempt + 1 == self.attempts or (delay or 0) > self.retry_after_cap:
                # Still owed: handed back, the next run or sweep finishes it.
                log.warning("discussion for %s left for the next run: %s", sub.channel, reason)
                await self.digests.release(run.owner, [delivery.id])
                return
            await self.sleep(delay if delay is not None else backoff(attempt, *RETRY_BACKOFF))
        await run.discussions.add((delivery.id, error))

    # -- composing -------------------------------------------------------------------------

    async def group_states(
        self, channels: list[str], subs: Sequence[Subscription] = ()
    ) -> dict[str, GroupState]:
        """What composing needs to know about many channels, in a few queries."""
        facts = await self.digests.channel_facts(channels)
        members = list(dict.fromkeys(m for f in facts.values() for m in f.members))
        marks = await self.store.progress_of(members)
        names = await self.store.user_names(members)
        news: dict[str, GroupNews] = {}
        if self.news is not None and subs:
            news = await self.news(subs, {c: f.members for c, f in facts.items()})
        return {
            channel: GroupState(
                f.covered,
                f.posted,
                {m: marks[m] for m in f.members},
                {m: names[m] for m in f.members if m in names},
                news.get(channel, GroupNews()),
            )
            for channel, f in facts.items()
        }

    async def compose(self, sub: Subscription) -> Digest:
        """The digest this subscription would get now."""
        states = await self.group_states([sub.channel], [sub])
        return await self._compose(sub, states[sub.channel])

    async def _compose(
        self, sub: Subscription, state: GroupState, run: _Run | None = None
    ) -> Digest:
        """The digest for ``sub``; in a run, each report's outline is asked for once."""
        agendas: dict[str, ReadingAgenda] = {}
        if self.agenda is not None:
            slugs = agenda_slugs(self.catalog, sub.target, state)
            if run is None:
                found = await asyncio.gather(*(self._agenda(s) for s in slugs))
            else:
                found = [await self._run_agenda(s, run) for s in slugs]
            agendas = {s: a for s, a in zip(slugs, found, strict=True) if a is not None}
        return compose_digest(self.catalog, sub, state, agendas)

    async def _run_agenda(self, slug: str, run: _Run) -> ReadingAgenda | None:
        """A report's outline for a run's digest. Thousands of channels share a handful of
        reports: the run's first digest quoting one asks, the others share its answer
        (asking again cost four tasks a digest). An outline not found is asked for again
        by later digests (it may have arrived), and said once per run."""
        asking = run.agendas.get(slug)
        if asking is None:
            asking = run.agendas[slug] = asyncio.ensure_future(self._agenda(slug, run.no_agenda))

            def forget_if_missing(done: asyncio.Future[ReadingAgenda | None]) -> None:
                if done.cancelled() or done.result() is None:
                    run.agendas.pop(slug, None)

            asking.add_done_callback(forget_if_missing)
        if asking.done():
            return asking.result()
        # shielded: a digest cancelled while waiting (shutdown) leaves the others theirs
        return await asyncio.shield(asking)

    async def _agenda(self, slug: str, said: set[str] | None = None) -> ReadingAgenda | None:
        assert self.agenda is not None
        try:
            return await asyncio.wait_for(self.agenda(slug, AGENDA_TIMEOUT), AGENDA_TIMEOUT + 1)
        except Exception as problem:  # a digest never fails because of a report
            if said is None or slug not in said:
                log.warning("no reading agenda for %s: %s", slug, problem)
            if said is not None:
                said.add(slug)
            return None


@dataclass(frozen=True)
class _Timing:
    """Which weeks of one schedule, since ``next_due_at``, a run posts and records. It
    depends on the schedule and dates alone: thousands of subscriptions on a popular slot
    share one."""

    week: date | None  # the week to post; None: nothing to post now
    due: datetime
    next_due: datetime
    missed: list[tuple[date, datetime]]
    paused: list[tuple[date, datetime]]
    record_missed: bool  # record ``missed`` (even empty: the schedule moves on)
    upto: datetime  # where the schedule moves when weeks are recorded


def _timing(
    schedule: Schedule,
    next_due_at: datetime,
    paused_until: date | None,
    now: datetime,
    catchup: timedelta,
) -> _Timing:
    """Which weeks since the last handled one to post, record as missed or as paused."""
    weeks: list[tuple[date, datetime]] = []
    for week, due in schedule.occurrences_after(next_due_at - timedelta(microseconds=1)):
        if due > now or len(weeks) >= MAX_WEEKS_BACK:
            break
        weeks.append((week, due))
    if not weeks:  # nothing was due after all (the schedule changed): just move on
        after = schedule.next_after(now)[1]
        return _Timing(None, datetime.min, datetime.min, [], [], True, after)
    *older, (week, due) = weeks
    paused = [w for w in weeks if paused_until and w[0] < paused_until]
    missed = [w for w in older if w not in paused]
    latest_paused = (week, due) in paused
    too_late = now - due > catchup
    if not latest_paused and too_late:
        missed.append((week, due))
    next_due = schedule.next_after(due)[1]
    deliver = not latest_paused and not too_late
    upto = due if deliver else next_due  # the schedule moves past what is recorded
    return _Timing(week if deliver else None, due, next_due, missed, paused, bool(missed), upto)


@dataclass
class _Plan:
    """One due subscription in a run: what to post, and what to record as not posted."""

    sub: DueSubscription
    week: date | None = None  # the week to post; None: nothing to post now
    due: datetime = datetime.min
    next_due: datetime = datetime.min
    missed: Recorded | None = None
    paused: Recorded | None = None


@dataclass
class _Job:
    """One claimed row to finish in a run."""

    sub: Subscription
    delivery: Delivery
    next_due: datetime
    check: bool = False  # an earlier attempt may have posted: look before posting
    discussion_only: bool = False  # the post is recorded; only its thread reply is owed
    too_late: str | None = None  # if the platform does not have it: missed, for this reason
    in_room: bool = True  # counted in its run's room (building or posting)


def _before(state: GroupState, project: str | None) -> GroupState:
    """The channel as it was before ``project`` was posted (to compose that week again)."""
    if project is None:
        return state
    covered = {k: v for k, v in state.covered.items() if k != project}
    posted = list(state.posted)
    if project in posted:
        posted.reverse()
        posted.remove(project)
        posted.reverse()
    return GroupState(covered, posted, state.marks, state.names)


class _GroupCommit(Generic[T]):
    """Group commit: items arrive one by one and each waits for its answer. While one
    transaction is written, the next items gather, then go in together."""

    def __init__(
        self, write: Callable[[list[T]], Awaitable[set[str]]], key: Callable[[T], Hashable]
    ) -> None:
        self.write = write
        self.key = key
        self.pending: list[tuple[T, asyncio.Future[bool]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> bool:
        """Whether the write accepted this item (its key came back)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((item, done))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # let items of this same moment join the first batch
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                accepted = await self.write([item for item, _ in batch])
            except Exception as problem:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(problem)
            else:
                for item, done in batch:
                    if not done.done():
                        done.set_result(self.key(item) in accepted)


class _Room:
    """How many deliveries a run has building or posting, against its window. The run
    claims a batch only when the batch fits; a delivery gives its place back once its post
    is out (and while it waits out a Retry-After)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self._freed = asyncio.Event()

    async def wait_for(self, count: int) -> None:
        while self.used and self.used + count > self.size:
            self._freed.clear()
            await self._freed.wait()

    def take(self, count: int = 1) -> None:
        self.used += count

    def give(self, count: int = 1) -> None:
        self.used -= count
        self._freed.set()


def _taken_over(sub: Subscription, delivery: Delivery) -> None:
    # the operator's only clue why a run ends with "in progress" and no post
    log.warning("%s: the lease on %s was taken over: not posting", sub.channel, delivery.id)


class _Run:
    """One run_due: its owner id (the lease holder), its time, and its batched writes."""

    def __init__(self, deliverer: Deliverer, owner: str, start: datetime, summary: RunSummary):
        self.deliverer = deliverer
        self.owner = owner
        self.start = start
        self.summary = summary
        self._clock_start = deliverer.clock.now()
        self.held: set[str] = set()
        self.no_agenda: set[str] = set()  # reports whose outline this run could not read
        # outlines this run found (or is asking for), by report
        self.agendas: dict[str, asyncio.Future[ReadingAgenda | None]] = {}
        self.room = _Room(deliverer.window)
        self.tasks: set[asyncio.Task[None]] = set()
        self.started = 0
        self.claimed = False  # whether the run has claimed (or tried to) anything yet
        self.claim_size = min(FIRST_CLAIM, deliverer.claim_batch)  # the next claim's rows
        # set once the run's first fence is written (or a delivery ended without one)
        self.first_fenced = asyncio.Event()
        self.renewer: asyncio.Task[None] | None = None
        # subscriptions whose schedule this run moved to a week still due (after downtime)
        self.moved: set[int] = set()
        self._timings: dict[tuple[Schedule, datetime, date | None], _Timing] = {}
        digests = deliverer.digests
        self._fences = _GroupCommit[Lease](
            lambda leases: digests.hold(leases, owner), lambda lease: lease.delivery_id
        )
        self.completions = _GroupCommit[Completion](
            lambda done: digests.complete_many(done, owner), lambda c: c.delivery.id
        )
        self.discussions = _GroupCommit[tuple[str, str | None]](self._finish, lambda item: item[0])

    def plan(self, sub: DueSubscription) -> _Plan:
        """What this run does with one due subscription."""
        key = (sub.schedule, sub.next_due_at, sub.paused_until)
        timing = self._timings.get(key)
        if timing is None:
            timing = _timing(*key, self.start, self.deliverer.catchup)
            self._timings[key] = timing
        missed = paused = None
        if timing.record_missed:
            missed = Recorded(sub, timing.missed, DeliveryState.MISSED, timing.upto)
        if timing.paused:
            paused = Recorded(sub, timing.paused, DeliveryState.PAUSED, timing.upto)
        if (missed or paused) and timing.upto <= self.start:
            self.moved.add(sub.id)
        return _Plan(sub, timing.week, timing.due, timing.next_due, missed, paused)

    def done(self, task: asyncio.Task[None]) -> None:
        """A delivery ended. One cancelled (shutting down) was left to the next worker, or
        handed back. Only unfinished tasks are kept: memory stays flat over a long run."""
        self.tasks.discard(task)
        self.first_fenced.set()  # (or it never will be: a run must not wait for it)
        if task.cancelled() or task.exception() is not None:
            self.summary.in_progress += 1

    async def finish(self) -> None:
        """Wait for every delivery the run started."""
        while self.tasks:
            await asyncio.wait(set(self.tasks))

    async def stop(self, *helpers: asyncio.Future[Any]) -> None:
        """End what the run started besides its deliveries, and wait until it has ended:
        the lease renewer, outline asks still under way and ``helpers`` are cancelled;
        batched writes under way finish (what they record must not be lost).

        ``asyncio.wait`` rather than ``await``: their own cancellation is not raised
        here, but a cancellation of the run still is."""
        cancelled = [*helpers, *self.agendas.values()]
        if self.renewer is not None:
            cancelled.append(self.renewer)
        for future in cancelled:
            future.cancel()
        writers = [batch.writer for batch in (self._fences, self.completions, self.discussions)]
        waiting = {f for f in [*cancelled, *writers] if f is not None and not f.done()}
        if waiting:
            await asyncio.wait(waiting)

    def now(self) -> datetime:
        """The run's time: its start (which may be given) moved on as the clock moves."""
        return self.start + (self.deliverer.clock.now() - self._clock_start)

    def leave(self, job: _Job) -> None:
        if job.in_room:
            job.in_room = False
            self.room.give()

    def enter(self, job: _Job) -> None:
        if not job.in_room:
            job.in_room = True
            self.room.take()

    async def after_first_fence(self) -> None:
        """Wait until the run's first fence is written, if it has started deliveries. The
        fence and the run's next claim or record all write: on SQLite the second to come
        waits for the first's transaction, and the first posts should not (bounded: a run
        never stalls on it)."""
        if self.started and not self.first_fenced.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.first_fenced.wait(), FIRST_FENCE_WAIT)
            self.first_fenced.set()  # waited once at most (its posts may look first, slowly)

    async def fence(self, delivery_id: str, longer: timedelta = timedelta(0)) -> bool:
        """Renew the lease (compare-and-set on the owner); False: it is someone else's."""
        until = self.now() + self.deliverer.lease + longer
        try:
            return await self._fences.add(Lease(delivery_id, until))
        finally:
            self.first_fenced.set()

    async def _finish(self, items: Sequence[tuple[str, str | None]]) -> set[str]:
        await self.deliverer.digests.finish_discussions(items, self.owner)
        return {did for did, _ in items}


def next_posts(schedule: Schedule, now: datetime, count: int = 4) -> list[datetime]:
    """The next ``count`` post instants (UTC)."""
    out = []
    for _, instant in schedule.occurrences_after(now):
        out.append(instant)
        if len(out) == count:
            break
    return out
