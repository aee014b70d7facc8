"""Persistence for study groups: subscriptions, the delivery ledger, channel progress.

The ledger is what makes weekly posts exactly-once: a delivery row keyed by
(subscription, week) is claimed before anything is sent, as a lease: ``claimed_by``
(the worker) and ``lease_until`` (its expiry). Every step that acts on a claim (renewing
it, posting, completing it, giving it up) is one UPDATE whose WHERE names the owner: a
compare-and-set, so a worker whose lease was taken over changes nothing and learns it
(the row count is 0). A lease that expired belongs to whoever takes it next; that worker
asks the platform first, as the previous holder may have posted.

The same code runs on SQLite and PostgreSQL. On SQLite every write transaction holds the
database's write lock (BEGIN IMMEDIATE). On PostgreSQL, where replicas write at once, a
claim or takeover locks the rows it acts on with FOR UPDATE SKIP LOCKED: a row another
replica is working on is skipped, not waited for, so replicas split a fan-out between
them, and the compare-and-set UPDATEs stay the final word. A transaction that updates
several delivery rows updates them in id order: each UPDATE holds its row's lock until
commit, and two transactions taking rows in different orders can deadlock (a run's
lease renewal, in id order, and its batch of completions, in the order the posts came
back, did on PostgreSQL, failing that batch).

All of the ledger's SQL lives in this module, behind the methods of :class:`DigestStore`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from roadmap_bot.store import schema as t
from roadmap_bot.store.sql import CHUNK, SqlStore, chunks, insert
from roadmap_bot.weekly import Schedule


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


@dataclass(slots=True)
class DueSubscription:
    """What planning a run needs of one due subscription. The rest (target, author, ...)
    is read only for the posts a worker claims (:meth:`DigestStore.subscriptions`): a
    popular slot selects tens of thousands of these at once."""

    id: int
    channel: str
    schedule: Schedule
    next_due_at: datetime
    paused_until: date | None = None


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


_SELECT_GROUPS = 8  # at most this many (week, instant) groups claimed by INSERT ... SELECT
DUE_BATCH = 1000  # due subscriptions per read at most: a few milliseconds of the event loop
FIRST_DUE_BATCH = 128  # the first read of a run: enough for its first claim


@dataclass(frozen=True)
class ChannelFacts:
    covered: dict[str, str]  # slug -> 'posted' | 'skipped'
    posted: list[str]  # posted picks, oldest first
    members: list[str]


@dataclass(frozen=True)
class ClaimRequest:
    sub: Subscription | DueSubscription  # only its id and channel are used
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
    sub: Subscription | DueSubscription  # only its id and channel are used
    weeks: Sequence[tuple[date, datetime]]
    state: DeliveryState
    next_due_at: datetime


@dataclass(frozen=True)
class Lease:
    """A worker's hold on one delivery row until ``until``."""

    delivery_id: str
    until: datetime


def _claimed(
    key: str, want: ClaimRequest, channel: str, now: datetime, worker: str, until: datetime
) -> Delivery:
    return Delivery(
        id=key,
        subscription_id=want.sub.id,
        channel=channel,
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


def delivery_id(subscription_id: int, week: date) -> str:
    return f"{subscription_id}-{week.isoformat()}"


def platform_of(channel: str) -> str:
    """'slack:T1:C1' -> 'slack': the platform a channel id belongs to."""
    return channel.split(":", 1)[0]


_s = t.subscriptions
_d = t.deliveries
_SUB_COLUMNS = (
    _s.c.id,
    _s.c.channel,
    _s.c.target,
    _s.c.weekday,
    _s.c.at_time,
    _s.c.timezone,
    _s.c.created_by,
    _s.c.created_at,
    _s.c.next_due_at,
    _s.c.paused_until,
    _s.c.problem,
)
_DELIVERY_COLUMNS = (
    _d.c.id,
    _d.c.subscription_id,
    _d.c.channel,
    _d.c.week,
    _d.c.due_at,
    _d.c.kind,
    _d.c.project,
    _d.c.state,
    _d.c.attempts,
    _d.c.claimed_at,
    _d.c.sent_at,
    _d.c.message_id,
    _d.c.error,
    _d.c.claimed_by,
    _d.c.lease_until,
    _d.c.discussion,
)
# what a claim's INSERT ... SELECT fills, in its SELECT's order
_CLAIM_COLUMNS = [
    _d.c.id,
    _d.c.subscription_id,
    _d.c.channel,
    _d.c.week,
    _d.c.due_at,
    _d.c.kind,
    _d.c.state,
    _d.c.attempts,
    _d.c.claimed_at,
    _d.c.claimed_by,
    _d.c.lease_until,
]
_FINISHED = (DeliveryState.SENT, DeliveryState.MISSED, DeliveryState.PAUSED)
_CLAIMED = DeliveryState.CLAIMED.value
# A row someone must still act on (send it, or finish its thread): a claim, or an owed reply.
_OWED = or_(_d.c.state == _CLAIMED, _d.c.discussion == DISCUSSION_PENDING)


def _abandoned(now: datetime) -> ColumnElement[bool]:
    """A row someone must still act on whose lease is free."""
    return _OWED & (_d.c.lease_until.is_(None) | (_d.c.lease_until <= now))


# Only ever forwards: a slow worker must not move a schedule back.
_DUE = bindparam("due", type_=t.Timestamp())
_ADVANCE = (
    update(_s).where(_s.c.id == bindparam("sid"), _s.c.next_due_at < _DUE).values(next_due_at=_DUE)
)


def _advance(next_due_at: datetime, subscription_id: int) -> dict[str, Any]:
    return {"sid": subscription_id, "due": next_due_at}


@lru_cache(maxsize=16384)
def _schedule(weekday: int, at_time: str, zone: str) -> Schedule:
    # Few distinct schedules exist; sharing them keeps loading 10,000 rows cheap.
    return Schedule(weekday, time.fromisoformat(at_time), zone)


def _subscription(row: Sequence[Any]) -> Subscription:
    (sid, channel, target, weekday, at_time, zone, by, created, due, paused, problem) = row
    return Subscription(
        sid, channel, target, _schedule(weekday, at_time, zone), by, created, due, paused, problem
    )


@lru_cache(maxsize=2)
def _due_columns(dialect: str) -> tuple[ColumnElement[Any], ...]:
    """What due selection reads, instants and days as the driver returns them (the column
    types would parse every row's again)."""
    due: ColumnElement[Any] = _s.c.next_due_at
    paused: ColumnElement[Any] = _s.c.paused_until
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # loaded already: the engine is open

        due = type_coerce(due, postgresql.TIMESTAMP(timezone=True))
        paused = type_coerce(paused, postgresql.DATE())
    else:
        due, paused = type_coerce(due, Text()), type_coerce(paused, Text())
    return (_s.c.id, _s.c.channel, _s.c.weekday, _s.c.at_time, _s.c.timezone, due, paused)


class _DueReader:
    """Due rows as :class:`DueSubscription` values. On SQLite instants and days come as
    text: each distinct one is parsed once per selection (a popular slot's 20,000 rows
    share one next_due_at); PostgreSQL's driver returns values already."""

    def __init__(self) -> None:
        self.instants: dict[Any, datetime] = {}
        self.days: dict[Any, date | None] = {None: None}

    def read(self, rows: Sequence[Sequence[Any]]) -> list[DueSubscription]:
        instants, days = self.instants, self.days
        found = []
        for sid, channel, weekday, at_time, zone, due, paused in rows:
            instant = instants.get(due)
            if instant is None:
                instant = instants[due] = due if isinstance(due, datetime) else t.from_text(due)
            if paused in days:
                day = days[paused]
            else:
                day = days[paused] = paused if isinstance(paused, date) else _day(paused)
            found.append(
                DueSubscription(sid, channel, _schedule(weekday, at_time, zone), instant, day)
            )
        return found


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _delivery(row: Sequence[Any]) -> Delivery:
    (did, sid, channel, week, due, kind, project, state, attempts, claimed, sent, mid, err) = row[
        :13
    ]
    by, until, discussion = row[13:16]
    return Delivery(
        id=did,
        subscription_id=sid,
        channel=channel,
        week=week,
        due_at=due,
        kind=kind,
        project=project,
        state=DeliveryState(state),
        attempts=attempts,
        claimed_at=claimed,
        sent_at=sent,
        message_id=mid,
        error=err,
        claimed_by=by,
        lease_until=until,
        discussion=discussion,
    )


class DigestStore:
    """Study-group tables in the same database as the rest of the store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.db = store.db
        self._members_seen: set[tuple[str, str]] = set()

    # -- subscriptions ------------------------------------------------------------------

    async def _subscriptions(self, *where: Any, order: Any = None) -> list[Subscription]:
        query = select(*_SUB_COLUMNS).where(*where)
        if order is not None:
            query = query.order_by(*order)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_subscription(r) for r in rows]

    async def subscription(self, channel: str) -> Subscription | None:
        found = await self._subscriptions(_s.c.channel == channel, _s.c.ended_at.is_(None))
        return found[0] if found else None

    async def subscription_by_id(self, subscription_id: int) -> Subscription | None:
        """A subscription, ended or not (a recovered delivery may outlive it)."""
        found = await self._subscriptions(_s.c.id == subscription_id)
        return found[0] if found else None

    async def ended(self, subscription_id: int) -> bool:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(_s.c.ended_at.is_not(None)).where(_s.c.id == subscription_id)
                )
            ).first()
        return bool(row[0]) if row is not None else True

    async def active(self) -> list[Subscription]:
        return await self._subscriptions(_s.c.ended_at.is_(None), order=[_s.c.id])

    async def active_channels_like(self, pattern: str) -> list[str]:
        """The channels with an active subscription matching a LIKE ``pattern`` (the
        Slack adapter asks which installation's key a shared channel is subscribed under)."""
        query = select(_s.c.channel).where(_s.c.ended_at.is_(None), _s.c.channel.like(pattern))
        async with self.db.read() as conn:
            return list((await conn.execute(query)).scalars())

    async def subscriptions(self, ids: Sequence[int]) -> dict[int, Subscription]:
        """Many subscriptions by id, ended or not."""
        found: dict[int, Subscription] = {}
        async with self.db.read() as conn:
            for chunk in chunks(ids):
                query = select(*_SUB_COLUMNS).where(_s.c.id.in_(chunk))
                for row in await conn.execute(query):
                    found[row[0]] = _subscription(row)
        return found

    async def due_batches(
        self,
        now: datetime,
        *,
        recent_after: datetime | None = None,
        first: int = FIRST_DUE_BATCH,
        batch: int = DUE_BATCH,
    ) -> AsyncIterator[list[DueSubscription]]:
        """Active, unblocked subscriptions with an occurrence at or before ``now``, oldest
        first, a batch at a time: ``first`` rows, then twice as many each time up to
        ``batch``. Each batch is one short read (keyset on (next_due_at, id), along the
        ``subscriptions_due`` index) made only when the caller asks for it, and the event
        loop runs between them: the caller can start on the first rows of a popular slot
        at once, and 20,000 never block the loop for long.

        ``recent_after``: those due after it come first, then the older ones. After
        downtime the older ones are mostly weeks to record as missed; the recent ones
        are posts to make, and need not wait behind them."""
        columns = _due_columns(self.db.dialect)
        reader = _DueReader()
        active = (_s.c.ended_at.is_(None), _s.c.problem.is_(None))
        if recent_after is None or recent_after >= now:
            passes: list[tuple[ColumnElement[bool], ...]] = [(_s.c.next_due_at <= now,)]
        else:
            passes = [
                (_s.c.next_due_at <= now, _s.c.next_due_at > recent_after),
                (_s.c.next_due_at <= recent_after,),
            ]
        size = min(first, batch)
        for due in passes:
            after: tuple[datetime, int] | None = None
            while True:
                query = (
                    select(*columns)
                    .where(*active, *due)
                    .order_by(_s.c.next_due_at, _s.c.id)
                    .limit(size)
                )
                if after is not None:
                    query = query.where(
                        tuple_(_s.c.next_due_at, _s.c.id)
                        > tuple_(literal(after[0], t.Timestamp()), literal(after[1]))
                    )
                async with self.db.read() as conn:
                    rows = (await conn.execute(query)).all()
                found = reader.read(rows)
                if found:
                    yield found
                if len(rows) < size:
                    break
                after = (found[-1].next_due_at, found[-1].id)
                size = min(size * 2, batch)
                await asyncio.sleep(0)  # whatever the reader does with a batch, others get a turn

    async def next_due_after(self, now: datetime) -> datetime | None:
        """The next instant after ``now`` at which an active, unblocked subscription falls
        due (the first entry past ``now`` on the ``subscriptions_due`` index), if any."""
        query = (
            select(_s.c.next_due_at)
            .where(_s.c.ended_at.is_(None), _s.c.problem.is_(None), _s.c.next_due_at > now)
            .order_by(_s.c.next_due_at)
            .limit(1)
        )
        async with self.db.read() as conn:
            found: datetime | None = await conn.scalar(query)
        return found

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
            row = (
                await conn.execute(
                    select(*_SUB_COLUMNS)
                    .where(_s.c.channel == channel, _s.c.ended_at.is_(None))
                    .with_for_update()
                )
            ).first()
            replaced = _subscription(row) if row is not None else None
            if replaced is not None:
                await conn.execute(
                    update(_s)
                    .where(_s.c.id == replaced.id)
                    .values(ended_at=now, ended_why="replaced")
                )
            new_id = await conn.scalar(
                _s.insert()
                .values(
                    channel=channel,
                    target=target,
                    weekday=schedule.weekday,
                    at_time=schedule.at.strftime("%H:%M"),
                    timezone=schedule.zone,
                    created_by=by,
                    created_at=now,
                    next_due_at=first_due,
                )
                .returning(_s.c.id)
            )
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
                update(_s)
                .where(_s.c.id == subscription_id, _s.c.ended_at.is_(None))
                .values(ended_at=now, ended_why=why)
            )

    async def set_pause(self, subscription_id: int, until: date | None) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                update(_s).where(_s.c.id == subscription_id).values(paused_until=until)
            )

    async def set_problem(self, subscription_id: int, problem: str | None) -> None:
        async with self.store.write() as conn:
            await conn.execute(update(_s).where(_s.c.id == subscription_id).values(problem=problem))

    # -- the ledger: leases -----------------------------------------------------------------

    async def claim_many(
        self,
        wanted: Sequence[ClaimRequest],
        worker: str,
        now: datetime,
        lease: timedelta,
    ) -> list[Claim]:
        """Claim (subscription, week) rows for sending, each as a lease held by ``worker``
        until ``now + lease``, in write transactions of at most 500 rows. Whatever other
        workers do, only one of them at a time gets NEW or RETRY for a row; results come in
        the order asked."""
        claims: list[Claim] = []
        # even nothing to claim takes the write lock once: a run learns at once whether it
        # can write (serve's start-up catch-up waits out a database another process holds)
        for start in range(0, max(len(wanted), 1), CHUNK):
            claims += await self._claim(wanted[start : start + CHUNK], worker, now, lease)
        return claims

    async def _claim(
        self, wanted: Sequence[ClaimRequest], worker: str, now: datetime, lease: timedelta
    ) -> list[Claim]:
        keys = [delivery_id(w.sub.id, w.week) for w in wanted]
        until = now + lease
        async with self.store.write() as conn:
            # New rows first, before this transaction locks any existing row: an insert may
            # wait for another replica's transaction on the same key (its claim, or its
            # completion of that row), and holding a row it waits for would deadlock
            # (PostgreSQL; SQLite's write lock is whole). Two claims inserting overlapping
            # rows insert them in one order, (week, due_at, subscription), so neither waits
            # for a row the other inserts after one it waits for.
            inserted = await self._insert_claims(conn, wanted, worker, now, until)
            existing = [k for k in keys if k not in inserted]
            # Rows another replica has locked this moment are skipped, not waited for: it is
            # claiming or settling them.
            held = await self._deliveries_in(conn, existing, lock=True)
            # Neither new nor locked by us: another replica holds it (or just inserted it).
            theirs = await self._deliveries_in(
                conn, [k for k in existing if k not in held], lock=False
            )
            claims: list[Claim] = []
            retries: list[dict[str, Any]] = []
            for key, want in zip(keys, wanted, strict=True):
                if key in inserted:
                    delivery = _claimed(key, want, inserted[key], now, worker, until)
                    claims.append(Claim(ClaimOutcome.NEW, delivery))
                    continue
                old = held.get(key) or theirs[key]
                if old.state in _FINISHED:
                    claims.append(Claim(ClaimOutcome.DONE, old))
                elif key in theirs or (old.lease_until is not None and old.lease_until > now):
                    live = (
                        ClaimOutcome.BUSY
                        if old.state is DeliveryState.CLAIMED or key in theirs
                        else ClaimOutcome.LATER
                    )
                    claims.append(Claim(live, old))
                else:  # abandoned by a worker that died, or failed earlier: ours to retry
                    retries.append({"key": key, "at": now, "by": worker, "until": until})
                    retry = replace(
                        old,
                        state=DeliveryState.CLAIMED,
                        attempts=old.attempts + 1,
                        claimed_at=now,
                        claimed_by=worker,
                        lease_until=until,
                    )
                    claims.append(Claim(ClaimOutcome.RETRY, retry))
            if retries:
                await conn.execute(
                    update(_d)
                    .where(_d.c.id == bindparam("key"))
                    .values(
                        state=_CLAIMED,
                        attempts=_d.c.attempts + 1,
                        claimed_at=bindparam("at"),
                        claimed_by=bindparam("by"),
                        lease_until=bindparam("until"),
                    ),
                    retries,
                )
        return claims

    async def _insert_claims(
        self,
        conn: AsyncConnection,
        wanted: Sequence[ClaimRequest],
        worker: str,
        now: datetime,
        until: datetime,
    ) -> dict[str, str]:
        """Insert the claims that have no ledger row yet; return {key: channel} of those
        inserted. Requests sharing a week and instant (a popular slot's whole batch) are
        one INSERT ... SELECT from subscriptions: the rows are made by the database, not
        built and bound here one by one (that was most of a claim's cost)."""
        order = sorted(wanted, key=lambda w: (w.week, w.due_at, w.sub.id))
        groups: dict[tuple[date, datetime], list[int]] = {}
        for want in order:
            groups.setdefault((want.week, want.due_at), []).append(want.sub.id)
        if len(groups) > _SELECT_GROUPS:  # many schedules in one batch (after downtime)
            return await self._insert_rows(conn, order, worker, now, until)
        inserted: dict[str, str] = {}
        for (week, due_at), ids in groups.items():
            rows = select(
                cast(_s.c.id, Text).concat(literal(f"-{week.isoformat()}", Text)),
                _s.c.id,
                _s.c.channel,
                literal(week, t.Day()),
                literal(due_at, t.Timestamp()),
                literal("digest", Text),
                literal(_CLAIMED, Text),
                literal(1, Integer),
                literal(now, t.Timestamp()),
                literal(worker, Text),
                literal(until, t.Timestamp()),
            ).where(_s.c.id.in_(ids))
            stmt = (
                insert(self.db.dialect, _d)
                .from_select(_CLAIM_COLUMNS, rows.order_by(_s.c.id))
                .on_conflict_do_nothing()
                .returning(_d.c.id, _d.c.channel)
            )
            inserted.update({key: channel for key, channel in await conn.execute(stmt)})
        return inserted

    async def _insert_rows(
        self,
        conn: AsyncConnection,
        order: Sequence[ClaimRequest],
        worker: str,
        now: datetime,
        until: datetime,
    ) -> dict[str, str]:
        new_rows = [
            {
                "id": delivery_id(want.sub.id, want.week),
                "subscription_id": want.sub.id,
                "channel": want.sub.channel,
                "week": want.week,
                "due_at": want.due_at,
                "kind": "digest",
                "state": _CLAIMED,
                "attempts": 1,
                "claimed_at": now,
                "claimed_by": worker,
                "lease_until": until,
            }
            for want in order
        ]
        if not new_rows:
            return {}
        found = await conn.execute(
            insert(self.db.dialect, _d).on_conflict_do_nothing().returning(_d.c.id, _d.c.channel),
            new_rows,
        )
        return {key: channel for key, channel in found}

    @staticmethod
    async def _deliveries_in(
        conn: AsyncConnection, keys: Sequence[str], *, lock: bool
    ) -> dict[str, Delivery]:
        found: dict[str, Delivery] = {}
        for chunk in chunks(keys):
            query = select(*_DELIVERY_COLUMNS).where(_d.c.id.in_(chunk))
            if lock:
                query = query.with_for_update(skip_locked=True)
            for row in await conn.execute(query):
                found[row[0]] = _delivery(row)
        return found

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
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(*_DELIVERY_COLUMNS).where(_abandoned(now)).order_by(_d.c.due_at).limit(limit)
            )
            # only rows of platforms this worker can post to (channel ids start 'slack:', ...)
            found = [d for d in (_delivery(r) for r in rows) if platform_of(d.channel) in platforms]
        if not found:
            return []
        until = now + lease
        taken: list[Delivery] = []
        async with self.store.write() as conn:
            # on PostgreSQL, rows another replica is taking right now are left to it
            free = await self._deliveries_in(conn, [d.id for d in found], lock=True)
            for old in found:
                if old.id not in free:
                    continue
                done = await conn.execute(
                    update(_d)
                    .where(_d.c.id == old.id, _abandoned(now))
                    .values(claimed_by=worker, lease_until=until, attempts=_d.c.attempts + 1)
                )
                if done.rowcount == 1:
                    taken.append(replace(old, claimed_by=worker, lease_until=until))
        return taken

    async def hold(self, leases: Sequence[Lease], worker: str) -> set[str]:
        """Renew leases that are still ``worker``'s (compare-and-set on the owner); return
        the ids still held. The deliverer calls it right before each post: a row missing
        from the answer was taken over, and must not be posted."""
        if not leases:
            return set()
        until = {lease.delivery_id: lease.until for lease in leases}  # the last one wins
        ids = sorted(until)  # in id order, as every multi-row write here (module docstring)
        mine = (_d.c.claimed_by == worker) & _OWED
        held: set[str] = set()
        async with self.store.write() as conn:
            # One executemany (a fan-out fences thousands of posts: a statement each kept
            # the write lock busy), then which rows are still ours: those it renewed.
            await conn.execute(
                update(_d)
                .where(_d.c.id == bindparam("key"), mine)
                .values(lease_until=bindparam("until", type_=t.Timestamp())),
                [{"key": i, "until": until[i]} for i in ids],
            )
            for chunk in chunks(ids):
                held.update(
                    (await conn.execute(select(_d.c.id).where(_d.c.id.in_(chunk), mine))).scalars()
                )
        return held

    async def release(self, worker: str, ids: Sequence[str] | None = None) -> int:
        """Give leases back at once (shutting down): the next worker need not wait for
        them to expire. It checks the platform before posting, as for any taken-over row."""
        mine = update(_d).where(_d.c.claimed_by == worker, _OWED).values(lease_until=None)
        async with self.store.write() as conn:
            if ids is None:
                return (await conn.execute(mine)).rowcount
            count = 0
            for chunk in chunks(list(ids)):
                count += (await conn.execute(mine.where(_d.c.id.in_(chunk)))).rowcount
            return count

    async def complete_many(self, done: Sequence[Completion], worker: str) -> set[str]:
        """The platform accepted these posts: record them, cover their picks and move their
        schedules on, in one transaction (a run of 2,000 channels commits a handful).
        Only rows ``worker`` still holds are recorded; returns their ids. A post whose
        thread reply is still owed keeps its lease until :meth:`finish_discussions`."""
        if not done:
            return set()
        covered = insert(self.db.dialect, t.channel_covered)
        # 'posted' wins over an earlier 'skipped': the group did get this one
        covered = covered.on_conflict_do_update(
            index_elements=[t.channel_covered.c.channel, t.channel_covered.c.project],
            set_={"how": "posted", "at": covered.excluded.at},
        )
        async with self.store.write() as conn:
            done = sorted(done, key=lambda d: d.delivery.id)  # in id order: see above
            # An executemany or two (a post whose thread reply is owed keeps its lease until
            # the reply); which rows they changed is read back after.
            for owed in (False, True):
                rows = [
                    {
                        "key": d.delivery.id,
                        "at": d.at,
                        "mid": d.message_id,
                        "kind": d.kind,
                        "project": d.project,
                        "discussion": d.discussion,
                    }
                    for d in done
                    if (d.discussion is not None) == owed
                ]
                if not rows:
                    continue
                values: dict[str, Any] = {
                    "state": DeliveryState.SENT.value,
                    "sent_at": bindparam("at", type_=t.Timestamp()),
                    "message_id": bindparam("mid"),
                    "kind": bindparam("kind"),
                    "project": bindparam("project"),
                    "error": None,
                    "discussion": bindparam("discussion"),
                }
                if not owed:
                    values["lease_until"] = None
                await conn.execute(
                    update(_d)
                    .where(
                        _d.c.id == bindparam("key"),
                        _d.c.claimed_by == worker,
                        _d.c.state == _CLAIMED,
                    )
                    .values(**values),
                    rows,
                )
            # ours now: sent, still held by this worker, with the message id just written
            ours: dict[str, str | None] = {}
            for chunk in chunks([d.delivery.id for d in done]):
                for key, mid in await conn.execute(
                    select(_d.c.id, _d.c.message_id).where(
                        _d.c.id.in_(chunk),
                        _d.c.claimed_by == worker,
                        _d.c.state == DeliveryState.SENT.value,
                    )
                ):
                    ours[key] = mid
            recorded = [d for d in done if ours.get(d.delivery.id) == d.message_id]
            picks = [
                {"channel": d.delivery.channel, "project": d.project, "how": "posted", "at": d.at}
                for d in recorded
                if d.project
            ]
            if picks:
                await conn.execute(covered, picks)
            if recorded:
                await conn.execute(
                    _ADVANCE,
                    [_advance(d.next_due_at, d.delivery.subscription_id) for d in recorded],
                )
            ended = [
                {"sid": d.delivery.subscription_id, "at": d.at}
                for d in recorded
                if d.kind == "completion"
            ]
            if ended:
                await conn.execute(
                    update(_s)
                    .where(_s.c.id == bindparam("sid"), _s.c.ended_at.is_(None))
                    .values(ended_at=bindparam("at"), ended_why="completed"),
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
            await conn.execute(
                update(_d)
                .where(
                    _d.c.id == bindparam("key"),
                    _d.c.claimed_by == worker,
                    _d.c.discussion == DISCUSSION_PENDING,
                )
                .values(
                    discussion=None,
                    lease_until=None,
                    error=func.coalesce(bindparam("why", type_=_d.c.error.type), _d.c.error),
                ),
                [{"key": did, "why": error} for did, error in sorted(finished)],  # in id order
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
            done = await conn.execute(
                update(_d)
                .where(_d.c.id == delivery.id, _d.c.claimed_by == worker, _d.c.state == _CLAIMED)
                .values(state=state, error=error, lease_until=until)
            )
            return done.rowcount == 1

    async def note(self, delivery: Delivery, error: str) -> None:
        """A problem after the post went out (e.g. the discussion thread): kept, not retried."""
        async with self.store.write() as conn:
            await conn.execute(update(_d).where(_d.c.id == delivery.id).values(error=error))

    async def record_many(self, items: Sequence[Recorded]) -> int:
        """Weeks that will never be posted (missed, paused), for many subscriptions at once;
        each schedule moves past them. Returns how many rows were new (or changed)."""
        if not items:
            return 0
        rows = [
            {
                "id": delivery_id(i.sub.id, week),
                "subscription_id": i.sub.id,
                "channel": i.sub.channel,
                "week": week,
                "due_at": due_at,
                "kind": "digest",
                "state": i.state.value,
            }
            for i in items
            for week, due_at in i.weeks
        ]
        # In the order claims insert theirs, (week, instant, subscription): on PostgreSQL
        # two transactions that take the same rows in different orders can deadlock.
        rows.sort(key=lambda r: (r["week"], r["due_at"], r["subscription_id"]))
        advances = sorted(items, key=lambda i: i.sub.id)
        stmt = insert(self.db.dialect, _d)
        # a week that failed and is now past its time ends missed, keeping why
        stmt = stmt.on_conflict_do_update(
            index_elements=[_d.c.subscription_id, _d.c.week],
            set_={
                "state": stmt.excluded.state,
                "lease_until": None,
                "error": literal("not posted in time: ")
                + func.coalesce(_d.c.error, "unknown error"),
            },
            where=(_d.c.state == DeliveryState.FAILED.value)
            & (stmt.excluded.state == DeliveryState.MISSED.value),
        ).returning(_d.c.id)
        async with self.store.write() as conn:
            added = len((await conn.execute(stmt, rows)).all()) if rows else 0
            await conn.execute(_ADVANCE, [_advance(i.next_due_at, i.sub.id) for i in advances])
        return added

    async def deliveries(self, channel: str, limit: int = 20) -> list[Delivery]:
        """The channel's deliveries, newest week first."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(*_DELIVERY_COLUMNS)
                .where(_d.c.channel == channel)
                .order_by(_d.c.due_at.desc())
                .limit(limit)
            )
            return [_delivery(r) for r in rows]

    async def sent_between(self, start: datetime, end: datetime) -> int:
        """Posts already sent for occurrences due in (start, end]."""
        async with self.db.read() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(_d)
                .where(
                    _d.c.state == DeliveryState.SENT.value, _d.c.due_at > start, _d.c.due_at <= end
                )
            )
        return int(count or 0)

    # -- what a channel has covered, and who is in it ----------------------------------

    async def channel_facts(self, channels: Sequence[str]) -> dict[str, ChannelFacts]:
        """Covered picks, posted picks (oldest first) and members of many channels at once."""
        facts = {c: ChannelFacts({}, [], []) for c in channels}
        cov, mem = t.channel_covered, t.channel_members
        async with self.db.read() as conn:
            for chunk in chunks(list(facts)):
                for channel, project, how in await conn.execute(
                    select(cov.c.channel, cov.c.project, cov.c.how).where(cov.c.channel.in_(chunk))
                ):
                    facts[channel].covered[project] = how
                for channel, project in await conn.execute(
                    select(_d.c.channel, _d.c.project)
                    .where(
                        _d.c.channel.in_(chunk),
                        _d.c.state == DeliveryState.SENT.value,
                        _d.c.project.is_not(None),
                    )
                    .order_by(_d.c.due_at)
                ):
                    facts[channel].posted.append(project)
                for channel, user in await conn.execute(
                    select(mem.c.channel, mem.c.user_id)
                    .where(mem.c.channel.in_(chunk))
                    .order_by(mem.c.seen_at, mem.c.user_id)
                ):
                    facts[channel].members.append(user)
        return facts

    async def covered(self, channel: str) -> dict[str, str]:
        """Projects the channel has been through: slug -> 'posted' or 'skipped'."""
        cov = t.channel_covered
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(cov.c.project, cov.c.how).where(cov.c.channel == channel)
            )
            return {str(p): str(h) for p, h in rows}

    async def cover(self, channel: str, project: str, how: str, now: datetime) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                insert(self.db.dialect, t.channel_covered)
                .values(channel=channel, project=project, how=how, at=now)
                .on_conflict_do_nothing()
            )

    async def remember_member(self, channel: str, user: str, now: datetime) -> None:
        if (channel, user) in self._members_seen:
            return  # one write per person and channel per process is enough
        stmt = insert(self.db.dialect, t.channel_members).values(
            channel=channel, user_id=user, seen_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.channel_members.c.channel, t.channel_members.c.user_id],
            set_={"seen_at": stmt.excluded.seen_at},
        )
        async with self.store.write() as conn:
            await conn.execute(stmt)
        self._members_seen.add((channel, user))

    async def members(self, channel: str) -> list[str]:
        mem = t.channel_members
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(mem.c.user_id)
                .where(mem.c.channel == channel)
                .order_by(mem.c.seen_at, mem.c.user_id)
            )
            return [str(r[0]) for r in rows]
