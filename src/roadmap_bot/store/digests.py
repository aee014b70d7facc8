"""Persistence for study groups: subscriptions, the delivery ledger, channel progress.

The ledger is what makes weekly posts exactly-once: a delivery row keyed by
(subscription, week) is claimed in a BEGIN IMMEDIATE transaction before anything is
sent, and completed with the platform's message id afterwards.
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
    CLAIMED = "claimed"  # someone is sending it (or crashed while sending)
    SENT = "sent"
    MISSED = "missed"  # due while the bot was down for longer than the catch-up window
    PAUSED = "paused"  # due during a pause: never posted, the path waits
    FAILED = "failed"  # the platform refused; retried while within the window


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


class ClaimOutcome(StrEnum):
    NEW = "new"  # ours to send
    RETRY = "retry"  # ours to send, but an earlier attempt may have reached the platform
    DONE = "done"  # already sent, missed or paused: nothing to do
    BUSY = "busy"  # another worker claimed it moments ago


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


@dataclass(frozen=True)
class Recorded:
    sub: Subscription
    weeks: Sequence[tuple[date, datetime]]
    state: DeliveryState
    next_due_at: datetime


def _claimed(key: str, want: ClaimRequest, now: datetime) -> Delivery:
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
    "claimed_at, sent_at, message_id, error"
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
    (did, sid, channel, week, due, kind, project, state, attempts, claimed, sent, mid, err) = row
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

    # -- the ledger ---------------------------------------------------------------------

    async def claim_many(
        self,
        wanted: Sequence[ClaimRequest],
        worker: str,
        now: datetime,
        stale_after: timedelta,
    ) -> list[Claim]:
        """Claim (subscription, week) rows for sending, all in one BEGIN IMMEDIATE
        transaction. Whatever other workers do, only one of them ever gets NEW or RETRY
        for a row; results come in the order asked."""
        keys = [delivery_id(w.sub.id, w.week) for w in wanted]
        claimed_at = to_text(now)
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
                        )
                    )
                    claims.append(Claim(ClaimOutcome.NEW, _claimed(key, want, now)))
                elif old.state in (DeliveryState.SENT, DeliveryState.MISSED, DeliveryState.PAUSED):
                    claims.append(Claim(ClaimOutcome.DONE, old))
                elif (
                    old.state is DeliveryState.CLAIMED
                    and old.claimed_at is not None
                    and now - old.claimed_at < stale_after
                ):
                    claims.append(Claim(ClaimOutcome.BUSY, old))
                else:  # abandoned by a worker that died, or failed earlier: ours to retry
                    retries.append((claimed_at, worker, key))
                    retry = replace(
                        old, state=DeliveryState.CLAIMED, attempts=old.attempts + 1, claimed_at=now
                    )
                    claims.append(Claim(ClaimOutcome.RETRY, retry))
            if inserts:
                await conn.executemany(
                    "INSERT INTO deliveries (id, subscription_id, channel, week, due_at, kind, "
                    "state, attempts, claimed_at, claimed_by) "
                    "VALUES (?, ?, ?, ?, ?, 'digest', 'claimed', 1, ?, ?)",
                    inserts,
                )
            if retries:
                await conn.executemany(
                    "UPDATE deliveries SET state = 'claimed', attempts = attempts + 1, "
                    "claimed_at = ?, claimed_by = ? WHERE id = ?",
                    retries,
                )
        return claims

    async def complete_many(self, done: Sequence[Completion]) -> None:
        """The platform accepted these posts: record them, cover their picks and move their
        schedules on, in one transaction (a run of 2,000 channels commits a handful)."""
        if not done:
            return
        async with self.store.write() as conn:
            await conn.executemany(
                "UPDATE deliveries SET state = 'sent', sent_at = ?, message_id = ?, "
                "kind = ?, project = ?, error = NULL WHERE id = ?",
                [(to_text(d.at), d.message_id, d.kind, d.project, d.delivery.id) for d in done],
            )
            # 'posted' wins over an earlier 'skipped': the group did get this one
            await conn.executemany(
                "INSERT INTO channel_covered (channel, project, how, at) VALUES (?, ?, 'posted', ?) "
                "ON CONFLICT (channel, project) DO UPDATE SET how = 'posted', at = excluded.at",
                [(d.delivery.channel, d.project, to_text(d.at)) for d in done if d.project],
            )
            await conn.executemany(
                _ADVANCE, [(to_text(d.next_due_at), d.delivery.subscription_id) for d in done]
            )
            ended = [
                (to_text(d.at), d.delivery.subscription_id) for d in done if d.kind == "completion"
            ]
            if ended:
                await conn.executemany(
                    "UPDATE subscriptions SET ended_at = ?, ended_why = 'completed' "
                    "WHERE id = ? AND ended_at IS NULL",
                    ended,
                )

    async def fail(self, delivery: Delivery, error: str) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                "UPDATE deliveries SET state = 'failed', error = ? WHERE id = ? AND state = 'claimed'",
                (error, delivery.id),
            )

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
                "VALUES (?, ?, ?, ?, ?, 'digest', ?) ON CONFLICT (subscription_id, week) DO NOTHING",
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
