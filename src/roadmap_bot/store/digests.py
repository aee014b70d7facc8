"""Persistence for study groups: subscriptions, the delivery ledger, channel progress.

The ledger is what makes weekly posts exactly-once: a delivery row keyed by
(subscription, week) is claimed before anything is sent, as a lease: ``claimed_by``
(the worker) and ``lease_until`` (its expiry). Every step that acts on a claim (renewing
it, posting, completing it, giving it up) is one UPDATE whose WHERE names the owner: a
compare-and-set, so a worker whose lease was taken over changes nothing and learns it
(the row count is 0). A lease that expired belongs to whoever takes it next; that worker
asks the platform first, as the previous holder may have posted.

All of the ledger's SQL lives in this module, behind the methods of :class:`DigestStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.sqlite import SqliteStore, from_text, to_text


class DeliveryState(StrEnum):
    CLAIMED = "claimed"  # a worker holds the lease and is sending it (or died doing so)
    SENT = "sent"
    MISSED = "missed"  # not posted in time; ``error`` says why when it was not downtime
    PAUSED = "paused"  # due during a pause: never posted, the path waits
    FAILED = "failed"  # the platform refused; retried while within the window (after
    # ``lease_until`` when the platform asked for a wait longer than the deliverer's cap)


DISCUSSION_PENDING = "pending"  # the post is out and recorded, its thread reply not yet


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    channel: str
    target: str  # 'path:<slug>' or 'level:<level>'
    schedule: Schedule
    created_by: str
    created_at: datetime
    next_due_at: datetime
    paused_until: date | None = None
    problem: str | None = None

    @property
    def target_kind(self) -> str:
        return self.target.split(":", 1)[0]

    @property
    def target_key(self) -> str:
        return self.target.split(":", 1)[1]


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: int
    channel: str
    week: date
    due_at: datetime
    kind: str
    project: str | None
    state: DeliveryState
    attempts: int
    claimed_at: datetime | None
    sent_at: datetime | None
    message_id: str | None
    error: str | None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    discussion: str | None = None  # DISCUSSION_PENDING while the thread reply is owed


class ClaimOutcome(StrEnum):
    NEW = "new"  # ours to send
    RETRY = "retry"  # ours to send, but an earlier attempt may have reached the platform
    DONE = "done"  # already sent, missed or paused: nothing to do
    BUSY = "busy"  # another worker holds a live lease on it: in progress there
    LATER = "later"  # rescheduled after a long Retry-After: not before its lease_until


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    delivery: Delivery


# Only ever forwards: a slow worker must not move a schedule back.
_ADVANCE = "UPDATE subscriptions SET next_due_at = max(next_due_at, ?) WHERE id = ?"
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


@dataclass(frozen=True)
class ChannelFacts:
    covered: dict[str, str]  # slug -> 'posted' | 'skipped'
    posted: list[str]  # posted picks, oldest first
    members: list[str]


@dataclass(frozen=True)
class ClaimRequest:
    sub: Subscription
    week: date
    due_at: datetime


@dataclass(frozen=True)
class Completion:
    delivery: Delivery
    message_id: str
    at: datetime
    next_due_at: datetime
    kind: str  # 'digest' or 'completion' (which ends the subscription)
    project: str | None
    discussion: str | None = None  # DISCUSSION_PENDING: a thread reply follows


@dataclass(frozen=True)
class Recorded:
    sub: Subscription
    weeks: Sequence[tuple[date, datetime]]
    state: DeliveryState
    next_due_at: datetime


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one delivery row until ``until``."""

    delivery_id: str
    until: datetime


def _claimed(key: str, want: ClaimRequest, now: datetime, worker: str, until: datetime) -> Delivery:
    return Delivery(
        id=key,
        subscription_id=want.sub.id,
        channel=want.sub.channel,
        week=want.week,
        due_at=want.due_at,
        kind="digest",
        project=None,
        state=DeliveryState.CLAIMED,
        attempts=1,
        claimed_at=now,
        sent_at=None,
        message_id=None,
        error=None,
        claimed_by=worker,
        lease_until=until,
    )


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def delivery_id(subscription_id: int, week: date) -> str:
    return f"{subscription_id}-{week.isoformat()}"


_SUB_COLUMNS = (
    "id, channel, target, weekday, at_time, timezone, created_by, created_at, "
    "next_due_at, paused_until, problem"
)
_DELIVERY_COLUMNS = (
    "id, subscription_id, channel, week, due_at, kind, project, state, attempts, "
    "claimed_at, sent_at, message_id, error, claimed_by, lease_until, discussion"
)
# A row someone must still act on (send it, or finish its thread) whose lease is free.
_ABANDONED = (
    "(state = 'claimed' OR discussion = 'pending') AND (lease_until IS NULL OR lease_until <= ?)"
)


@lru_cache(maxsize=4096)
def _schedule(weekday: int, at_time: str, zone: str) -> Schedule:
    # Few distinct schedules exist; sharing them keeps loading 10,000 rows cheap.
    return Schedule(weekday, time.fromisoformat(at_time), zone)


def _subscription(row: Any) -> Subscription:
    # SQLite hands back ints and strs already: no conversions beyond the dates.
    (sid, channel, target, weekday, at_time, zone, by, created, due, paused, problem) = row
    return Subscription(
        sid,
        channel,
        target,
        _schedule(weekday, at_time, zone),
        by,
        datetime.fromisoformat(created),
        datetime.fromisoformat(due),
        date.fromisoformat(paused) if paused else None,
        problem,
    )


def _delivery(row: tuple[object, ...]) -> Delivery:
    (did, sid, channel, week, due, kind, project, state, attempts, claimed, sent, mid, err) = row[
        :13
    ]
    by, until, discussion = row[13:16]
    return Delivery(
        id=str(did),
        subscription_id=int(str(sid)),
        channel=str(channel),
        week=date.fromisoformat(str(week)),
        due_at=from_text(str(due)),
        kind=str(kind),
        project=str(project) if project else None,
        state=DeliveryState(str(state)),
        attempts=int(str(attempts)),
        claimed_at=from_text(str(claimed)) if claimed else None,
        sent_at=from_text(str(sent)) if sent else None,
        message_id=str(mid) if mid else None,
        error=str(err) if err else None,
        claimed_by=str(by) if by else None,
        lease_until=from_text(str(until)) if until else None,
        discussion=str(discussion) if discussion else None,
    )


class DigestStore:
    """Study-group tables over the same SQLite connection as the rest of the store."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._members_seen: set[tuple[str, str]] = set()

    # -- subscriptions ------------------------------------------------------------------

    async def subscription(self, channel: str) -> Subscription | None:
        rows = await self.store.conn.execute_fetchall(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE channel = ? AND ended_at IS NULL",
            (channel,),
        )
        return _subscription(next(iter(rows))) if rows else None

    async def subscription_by_id(self, subscription_id: int) -> Subscription | None:
        """A subscription, ended or not (a recovered delivery may outlive it)."""
        rows = await self.store.conn.execute_fetchall(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE id = ?", (subscription_id,)
        )
        return _subscription(next(iter(rows))) if rows else None

    async def ended(self, subscription_id: int) -> bool:
        rows = await self.store.conn.execute_fetchall(
            "SELECT ended_at IS NOT NULL FROM subscriptions WHERE id = ?", (subscription_id,)
        )
        return bool(next(iter(rows))[0]) if rows else True

    async def active(self) -> list[Subscription]:
        rows = await self.store.conn.execute_fetchall(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE ended_at IS NULL ORDER BY id"
        )
        return [_subscription(r) for r in rows]

    async def due(self, now: datetime) -> list[Subscription]:
        """Active, unblocked subscriptions with an occurrence at or before ``now``."""
        rows = await self.store.conn.execute_fetchall(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions "
            "WHERE ended_at IS NULL AND problem IS NULL AND next_due_at <= ? ORDER BY next_due_at, id",
            (to_text(now),),
        )
        return [_subscription(r) for r in rows]

    async def subscribe(
        self,
        channel: str,
        target: str,
        schedule: Schedule,
        by: str,
        now: datetime,
    ) -> tuple[Subscription, Subscription | None]:
        """Start a subscription, ending the channel's current one; return (new, replaced)."""
        _, first_due = schedule.next_after(now)
        async with self.store.write() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE channel = ? AND ended_at IS NULL",
                (channel,),
            )
            replaced = _subscription(next(iter(rows))) if rows else None
            if replaced is not None:
                await conn.execute(
                    "UPDATE subscriptions SET ended_at = ?, ended_why = 'replaced' WHERE id = ?",
                    (to_text(now), replaced.id),
                )
            cursor = await conn.execute(
                "INSERT INTO subscriptions (channel, target, weekday, at_time, timezone, "
                "created_by, created_at, next_due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    channel,
                    target,
                    schedule.weekday,
                    schedule.at.strftime("%H:%M"),
                    schedule.zone,
                    by,
                    to_text(now),
                    to_text(first_due),
                ),
            )
            new_id = cursor.lastrowid
        created = Subscription(
            id=int(new_id or 0),
            channel=channel,
            target=target,
            schedule=schedule,
            created_by=by,
            created_at=now,
            next_due_at=first_due,
        )
        return created, replaced

    async def end(self, subscription_id: int, why: str, now: datetime) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                "UPDATE subscriptions SET ended_at = ?, ended_why = ? "
                "WHERE id = ? AND ended_at IS NULL",
                (to_text(now), why, subscription_id),
            )

    async def set_pause(self, subscription_id: int, until: date | None) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                "UPDATE subscriptions SET paused_until = ? WHERE id = ?",
                (until.isoformat() if until else None, subscription_id),
            )

    async def set_problem(self, subscription_id: int, problem: str | None) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                "UPDATE subscriptions SET problem = ? WHERE id = ?", (problem, subscription_id)
            )

    # -- the ledger: leases -----------------------------------------------------------------

    async def claim_many(
        self,
        wanted: Sequence[ClaimRequest],
        worker: str,
        now: datetime,
        lease: timedelta,
    ) -> list[Claim]:
        """Claim (subscription, week) rows for sending, each as a lease held by ``worker``
        until ``now + lease``, all in one write transaction. Whatever other workers do,
        only one of them at a time gets NEW or RETRY for a row; results come in the order
        asked."""
        keys = [delivery_id(w.sub.id, w.week) for w in wanted]
        claimed_at, until = to_text(now), to_text(now + lease)
        async with self.store.write() as conn:
            existing: dict[str, Delivery] = {}
            for chunk in _chunks(keys):
                rows = await conn.execute_fetchall(
                    f"SELECT {_DELIVERY_COLUMNS} FROM deliveries "
                    f"WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                existing.update((str(r[0]), _delivery(tuple(r))) for r in rows)
            claims: list[Claim] = []
            inserts, retries = [], []
            for key, want in zip(keys, wanted, strict=True):
                old = existing.get(key)
                if old is None:
                    inserts.append(
                        (
                            key,
                            want.sub.id,
                            want.sub.channel,
                            want.week.isoformat(),
                            to_text(want.due_at),
                            claimed_at,
                            worker,
                            until,
                        )
                    )
                    claims.append(
                        Claim(ClaimOutcome.NEW, _claimed(key, want, now, worker, now + lease))
                    )
                elif old.state in (DeliveryState.SENT, DeliveryState.MISSED, DeliveryState.PAUSED):
                    claims.append(Claim(ClaimOutcome.DONE, old))
                elif old.lease_until is not None and old.lease_until > now:
                    live = (
                        ClaimOutcome.BUSY
                        if old.state is DeliveryState.CLAIMED
                        else ClaimOutcome.LATER
                    )
                    claims.append(Claim(live, old))
                else:  # abandoned by a worker that died, or failed earlier: ours to retry
                    retries.append((claimed_at, worker, until, key))
                    retry = replace(
                        old,
                        state=DeliveryState.CLAIMED,
                        attempts=old.attempts + 1,
                        claimed_at=now,
                        claimed_by=worker,
                        lease_until=now + lease,
                    )
                    claims.append(Claim(ClaimOutcome.RETRY, retry))
            if inserts:
                await conn.executemany(
                    "INSERT INTO deliveries (id, subscription_id, channel, week, due_at, kind, "
                    "state, attempts, claimed_at, claimed_by, lease_until) "
                    "VALUES (?, ?, ?, ?, ?, 'digest', 'claimed', 1, ?, ?, ?)",
                    inserts,
                )
            if retries:
                await conn.executemany(
                    "UPDATE deliveries SET state = 'claimed', attempts = attempts + 1, "
                    "claimed_at = ?, claimed_by = ?, lease_until = ? WHERE id = ?",
                    retries,
                )
        return claims

    async def take_abandoned(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        *,
        platforms: Sequence[str],
        limit: int = 1000,
    ) -> list[Delivery]:
        """Take over rows whose holder died or gave them back (a claim not sent, or a post
        whose thread reply is owed), whatever their week: nothing is left claimed forever.
        Each is taken by compare-and-set, so two workers never take the same row."""
        rows = await self.store.conn.execute_fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE {_ABANDONED} "
            "ORDER BY due_at LIMIT ?",
            (to_text(now), limit),
        )
        # only rows of platforms this worker can post to (channel ids start 'slack:', ...)
        found = [
            d
            for d in (_delivery(tuple(r)) for r in rows)
            if d.channel.split(":", 1)[0] in platforms
        ]
        if not found:
            return []
        until = now + lease
        taken: list[Delivery] = []
        async with self.store.write() as conn:
            for old in found:
                cursor = await conn.execute(
                    "UPDATE deliveries SET claimed_by = ?, lease_until = ?, "
                    f"attempts = attempts + 1 WHERE id = ? AND {_ABANDONED}",
                    (worker, to_text(until), old.id, to_text(now)),
                )
                if cursor.rowcount == 1:
                    taken.append(replace(old, claimed_by=worker, lease_until=until))
        return taken

    async def hold(self, leases: Sequence[Lease], worker: str) -> set[str]:
        """Renew leases that are still ``worker``'s (compare-and-set on the owner); return
        the ids still held. The deliverer calls it right before each post: a row missing
        from the answer was taken over, and must not be posted."""
        if not leases:
            return set()
        held: set[str] = set()
        async with self.store.write() as conn:
            for lease in leases:
                cursor = await conn.execute(
                    "UPDATE deliveries SET lease_until = ? WHERE id = ? AND claimed_by = ? "
                    "AND (state = 'claimed' OR discussion = 'pending')",
                    (to_text(lease.until), lease.delivery_id, worker),
                )
                if cursor.rowcount == 1:
                    held.add(lease.delivery_id)
        return held

    async def release(self, worker: str, ids: Sequence[str] | None = None) -> int:
        """Give leases back at once (shutting down): the next worker need not wait for
        them to expire. It checks the platform before posting, as for any taken-over row."""
        where = "claimed_by = ? AND (state = 'claimed' OR discussion = 'pending')"
        async with self.store.write() as conn:
            if ids is None:
                cursor = await conn.execute(
                    f"UPDATE deliveries SET lease_until = NULL WHERE {where}", (worker,)
                )
                return cursor.rowcount
            count = 0
            for chunk in _chunks(list(ids)):
                cursor = await conn.execute(
                    f"UPDATE deliveries SET lease_until = NULL WHERE {where} "
                    f"AND id IN ({','.join('?' * len(chunk))})",
                    (worker, *chunk),
                )
                count += cursor.rowcount
            return count

    async def complete_many(self, done: Sequence[Completion], worker: str) -> set[str]:
        """The platform accepted these posts: record them, cover their picks and move their
        schedules on, in one transaction (a run of 2,000 channels commits a handful).
        Only rows ``worker`` still holds are recorded; returns their ids. A post whose
        thread reply is still owed keeps its lease until :meth:`finish_discussions`."""
        if not done:
            return set()
        recorded: list[Completion] = []
        async with self.store.write() as conn:
            for d in done:
                cursor = await conn.execute(
                    "UPDATE deliveries SET state = 'sent', sent_at = ?, message_id = ?, "
                    "kind = ?, project = ?, error = NULL, discussion = ?, "
                    "lease_until = CASE WHEN ? IS NULL THEN NULL ELSE lease_until END "
                    "WHERE id = ? AND claimed_by = ? AND state = 'claimed'",
                    (
                        to_text(d.at),
                        d.message_id,
                        d.kind,
                        d.project,
                        d.discussion,
                        d.discussion,
                        d.delivery.id,
                        worker,
                    ),
                )
                if cursor.rowcount == 1:
                    recorded.append(d)
            # 'posted' wins over an earlier 'skipped': the group did get this one
            await conn.executemany(
                "INSERT INTO channel_covered (channel, project, how, at) VALUES (?, ?, 'posted', ?) "
                "ON CONFLICT (channel, project) DO UPDATE SET how = 'posted', at = excluded.at",
                [(d.delivery.channel, d.project, to_text(d.at)) for d in recorded if d.project],
            )
            await conn.executemany(
                _ADVANCE, [(to_text(d.next_due_at), d.delivery.subscription_id) for d in recorded]
            )
            ended = [
                (to_text(d.at), d.delivery.subscription_id)
                for d in recorded
                if d.kind == "completion"
            ]
            if ended:
                await conn.executemany(
                    "UPDATE subscriptions SET ended_at = ?, ended_why = 'completed' "
                    "WHERE id = ? AND ended_at IS NULL",
                    ended,
                )
        return {d.delivery.id for d in recorded}

    async def finish_discussions(
        self, finished: Sequence[tuple[str, str | None]], worker: str
    ) -> None:
        """Thread replies done (or given up on, with the reason kept as the row's error);
        the lease ends with them."""
        if not finished:
            return
        async with self.store.write() as conn:
            await conn.executemany(
                "UPDATE deliveries SET discussion = NULL, lease_until = NULL, "
                "error = coalesce(?, error) WHERE id = ? AND claimed_by = ? "
                "AND discussion = 'pending'",
                [(error, did, worker) for did, error in finished],
            )

    async def fail(self, delivery: Delivery, error: str, worker: str) -> bool:
        """The platform refused: the row may be retried at once by the next run."""
        return await self._end_claim(delivery, "failed", error, None, worker)

    async def reschedule(
        self, delivery: Delivery, error: str, not_before: datetime, worker: str
    ) -> bool:
        """The platform asked for a wait longer than the deliverer waits: hand the claim
        back, to be retried by a run at or after ``not_before``."""
        return await self._end_claim(delivery, "failed", error, not_before, worker)

    async def miss(self, delivery: Delivery, reason: str, worker: str) -> bool:
        """Never posted, and too late to post now: the reason shows in ``schedule``."""
        return await self._end_claim(delivery, "missed", reason, None, worker)

    async def _end_claim(
        self,
        delivery: Delivery,
        state: str,
        error: str,
        until: datetime | None,
        worker: str,
    ) -> bool:
        async with self.store.write() as conn:
            cursor = await conn.execute(
                "UPDATE deliveries SET state = ?, error = ?, lease_until = ? "
                "WHERE id = ? AND claimed_by = ? AND state = 'claimed'",
                (state, error, to_text(until) if until else None, delivery.id, worker),
            )
            return cursor.rowcount == 1

    async def note(self, delivery: Delivery, error: str) -> None:
        """A problem after the post went out (e.g. the discussion thread): kept, not retried."""
        async with self.store.write() as conn:
            await conn.execute("UPDATE deliveries SET error = ? WHERE id = ?", (error, delivery.id))

    async def record_many(self, items: Sequence[Recorded]) -> int:
        """Weeks that will never be posted (missed, paused), for many subscriptions at once;
        each schedule moves past them. Returns how many rows were new."""
        if not items:
            return 0
        rows = [
            (
                delivery_id(i.sub.id, week),
                i.sub.id,
                i.sub.channel,
                week.isoformat(),
                to_text(due_at),
                i.state.value,
            )
            for i in items
            for week, due_at in i.weeks
        ]
        async with self.store.write() as conn:
            before = conn.total_changes
            await conn.executemany(
                "INSERT INTO deliveries (id, subscription_id, channel, week, due_at, kind, state) "
                "VALUES (?, ?, ?, ?, ?, 'digest', ?) ON CONFLICT (subscription_id, week) "
                # a week that failed and is now past its time ends missed, keeping why
                "DO UPDATE SET state = excluded.state, lease_until = NULL, "
                "error = 'not posted in time: ' || coalesce(deliveries.error, 'unknown error') "
                "WHERE deliveries.state = 'failed' AND excluded.state = 'missed'",
                rows,
            )
            added = conn.total_changes - before
            await conn.executemany(_ADVANCE, [(to_text(i.next_due_at), i.sub.id) for i in items])
        return added

    async def deliveries(self, channel: str, limit: int = 20) -> list[Delivery]:
        """The channel's deliveries, newest week first."""
        rows = await self.store.conn.execute_fetchall(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE channel = ? "
            "ORDER BY due_at DESC LIMIT ?",
            (channel, limit),
        )
        return [_delivery(tuple(r)) for r in rows]

    async def sent_between(self, start: datetime, end: datetime) -> int:
        """Posts already sent for occurrences due in (start, end]."""
        rows = await self.store.conn.execute_fetchall(
            "SELECT count(*) FROM deliveries WHERE state = 'sent' AND due_at > ? AND due_at <= ?",
            (to_text(start), to_text(end)),
        )
        return int(next(iter(rows))[0])

    # -- what a channel has covered, and who is in it ----------------------------------

    async def channel_facts(self, channels: Sequence[str]) -> dict[str, ChannelFacts]:
        """Covered picks, posted picks (oldest first) and members of many channels at once."""
        facts = {c: ChannelFacts({}, [], []) for c in channels}
        for chunk in _chunks(list(facts)):
            marks = ",".join("?" * len(chunk))
            for channel, project, how in await self.store.conn.execute_fetchall(
                f"SELECT channel, project, how FROM channel_covered WHERE channel IN ({marks})",
                chunk,
            ):
                facts[channel].covered[project] = how
            for channel, project in await self.store.conn.execute_fetchall(
                f"SELECT channel, project FROM deliveries WHERE channel IN ({marks}) "
                "AND state = 'sent' AND project IS NOT NULL ORDER BY due_at",
                chunk,
            ):
                facts[channel].posted.append(project)
            for channel, user in await self.store.conn.execute_fetchall(
                f"SELECT channel, user_id FROM channel_members WHERE channel IN ({marks}) "
                "ORDER BY seen_at, user_id",
                chunk,
            ):
                facts[channel].members.append(user)
        return facts

    async def covered(self, channel: str) -> dict[str, str]:
        """Projects the channel has been through: slug -> 'posted' or 'skipped'."""
        rows = await self.store.conn.execute_fetchall(
            "SELECT project, how FROM channel_covered WHERE channel = ?", (channel,)
        )
        return {str(p): str(h) for p, h in rows}

    async def cover(self, channel: str, project: str, how: str, now: datetime) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                "INSERT INTO channel_covered (channel, project, how, at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (channel, project) DO NOTHING",
                (channel, project, how, to_text(now)),
            )

    async def remember_member(self, channel: str, user: str, now: datetime) -> None:
        if (channel, user) in self._members_seen:
            return  # one write per person and channel per process is enough
        async with self.store.write() as conn:
            await conn.execute(
                "INSERT INTO channel_members (channel, user_id, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (channel, user_id) DO UPDATE SET seen_at = excluded.seen_at",
                (channel, user, to_text(now)),
            )
        self._members_seen.add((channel, user))

    async def members(self, channel: str) -> list[str]:
        rows = await self.store.conn.execute_fetchall(
            "SELECT user_id FROM channel_members WHERE channel = ? ORDER BY seen_at, user_id",
            (channel,),
        )
        return [str(r[0]) for r in rows]
