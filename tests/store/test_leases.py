"""The delivery ledger's leases: one holder at a time, fenced writes, nothing left claimed."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.digests import (
    ClaimOutcome,
    ClaimRequest,
    Completion,
    DeliveryState,
    DigestStore,
    Lease,
    Subscription,
)
from roadmap_bot.store.sql import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


async def _subscribed(digests: DigestStore, channel: str = "slack:T1:C1") -> Subscription:
    sub, _ = await digests.subscribe(
        channel, "level:beginner", Schedule(0, time(9), "UTC"), "slack:T1:U1", T0
    )
    return sub


def _want(sub: Subscription) -> ClaimRequest:
    return ClaimRequest(sub, DUE.date(), DUE)


async def test_a_live_lease_is_busy_for_others_and_an_expired_one_is_taken_over(
    store: SqlStore,
) -> None:
    digests = DigestStore(store)
    sub = await _subscribed(digests)
    [first] = await digests.claim_many([_want(sub)], "a", DUE, LEASE)
    assert first.outcome is ClaimOutcome.NEW
    [busy] = await digests.claim_many([_want(sub)], "b", DUE + timedelta(minutes=1), LEASE)
    assert busy.outcome is ClaimOutcome.BUSY
    later = DUE + timedelta(minutes=11)
    [taken] = await digests.claim_many([_want(sub)], "b", later, LEASE)
    assert taken.outcome is ClaimOutcome.RETRY  # b must look on the platform first
    # a, back from a long wait, is fenced off: it can neither renew, post nor complete
    assert await digests.hold([Lease(first.delivery.id, later + LEASE)], "a") == set()
    done = Completion(first.delivery, "ts-a", later, DUE + timedelta(days=7), "digest", "fzf")
    assert await digests.complete_many([done], "a") == set()
    assert not await digests.fail(first.delivery, "late", "a")
    mine = Completion(taken.delivery, "ts-b", later, DUE + timedelta(days=7), "digest", "fzf")
    assert await digests.complete_many([mine], "b") == {taken.delivery.id}
    [row] = await digests.deliveries(sub.channel)
    assert (row.state, row.message_id, row.claimed_by) == (DeliveryState.SENT, "ts-b", "b")


async def test_abandoned_claims_are_taken_whatever_their_week_once(store: SqlStore) -> None:
    digests = DigestStore(store)
    sub = await _subscribed(digests)
    await digests.claim_many([_want(sub)], "dead", DUE, LEASE)
    much_later = DUE + timedelta(days=3)  # the catch-up window moved on long ago
    assert await digests.take_abandoned("x", DUE, LEASE, platforms=["slack"]) == []
    assert await digests.take_abandoned("x", much_later, LEASE, platforms=["discord"]) == []
    [taken] = await digests.take_abandoned("x", much_later, LEASE, platforms=["slack"])
    assert taken.claimed_by == "x"
    assert await digests.take_abandoned("y", much_later, LEASE, platforms=["slack"]) == []
    assert await digests.miss(taken, "not posted: found too late", "x")
    [row] = await digests.deliveries(sub.channel)
    assert (row.state, row.error) == (DeliveryState.MISSED, "not posted: found too late")


async def test_handed_back_leases_are_free_at_once(store: SqlStore) -> None:
    digests = DigestStore(store)
    sub = await _subscribed(digests)
    await digests.claim_many([_want(sub)], "stopping", DUE, LEASE)
    assert await digests.release("stopping") == 1
    [retry] = await digests.claim_many([_want(sub)], "next", DUE + timedelta(seconds=1), LEASE)
    assert retry.outcome is ClaimOutcome.RETRY


async def test_a_rescheduled_claim_waits_for_its_time(store: SqlStore) -> None:
    digests = DigestStore(store)
    sub = await _subscribed(digests)
    [claim] = await digests.claim_many([_want(sub)], "a", DUE, LEASE)
    retry_at = DUE + timedelta(hours=1)
    assert await digests.reschedule(claim.delivery, "rate limited", retry_at, "a")
    [early] = await digests.claim_many([_want(sub)], "b", DUE + timedelta(minutes=30), LEASE)
    assert early.outcome is ClaimOutcome.LATER
    [due] = await digests.claim_many([_want(sub)], "b", retry_at, LEASE)
    assert due.outcome is ClaimOutcome.RETRY


async def test_an_owed_thread_reply_keeps_the_row_until_finished(store: SqlStore) -> None:
    digests = DigestStore(store)
    sub = await _subscribed(digests)
    [claim] = await digests.claim_many([_want(sub)], "a", DUE, LEASE)
    sent = Completion(
        claim.delivery, "ts", DUE, DUE + timedelta(days=7), "digest", "fzf", "pending"
    )
    assert await digests.complete_many([sent], "a") == {claim.delivery.id}
    # a dies before the thread reply: after the lease, the next worker owes it
    [owed] = await digests.take_abandoned("b", DUE + LEASE, LEASE, platforms=["slack"])
    assert (owed.state, owed.discussion) == (DeliveryState.SENT, "pending")
    await digests.finish_discussions([(owed.id, None)], "b")
    assert await digests.take_abandoned("c", DUE + 3 * LEASE, LEASE, platforms=["slack"]) == []


async def test_claims_from_before_leases_are_taken_over(tmp_path: Path) -> None:
    """A database from the previous version with a claim in flight: it has no lease."""
    path = tmp_path / "old.db"
    store = await SqlStore.open(path)
    digests = DigestStore(store)
    sub = await _subscribed(digests)
    await digests.claim_many([_want(sub)], "old", DUE, LEASE)
    await store.close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE deliveries SET lease_until = NULL")  # as migration 5 leaves them
    raw.commit()
    raw.close()
    store = await SqlStore.open(path)
    try:
        [taken] = await DigestStore(store).take_abandoned("new", DUE, LEASE, platforms=["slack"])
        assert taken.claimed_by == "new"
    finally:
        await store.close()


@pytest.mark.parametrize("weeks", [1, 3, 12])
async def test_a_batch_claims_each_row_once_whatever_its_weeks_and_instants(
    store: SqlStore, weeks: int
) -> None:
    """One week and instant is one INSERT ... SELECT, a few are one each, many are bound row
    by row: every way, each row is claimed once with its own week, instant and channel."""
    digests = DigestStore(store)
    subs = [await _subscribed(digests, f"slack:T1:C{i}") for i in range(12)]
    dues = [DUE + timedelta(days=7 * (i % weeks)) for i in range(12)]
    wanted = [ClaimRequest(s, d.date(), d) for s, d in zip(subs, dues, strict=True)]
    first = await digests.claim_many(wanted[:8], "a", DUE, LEASE)
    assert [c.outcome for c in first] == [ClaimOutcome.NEW] * 8
    assert [(c.delivery.channel, c.delivery.week) for c in first] == [
        (s.channel, d.date()) for s, d in zip(subs[:8], dues[:8], strict=True)
    ]
    # the first eight are a's now; the last four are new to b
    later = await digests.claim_many(wanted, "b", DUE + timedelta(minutes=1), LEASE)
    assert [c.outcome for c in later] == [ClaimOutcome.BUSY] * 8 + [ClaimOutcome.NEW] * 4
    for sub, due, holder in zip(subs, dues, ["a"] * 8 + ["b"] * 4, strict=True):
        [row] = await digests.deliveries(sub.channel)
        assert (row.id, row.week, row.due_at, row.claimed_by, row.state, row.attempts) == (
            f"{sub.id}-{due.date().isoformat()}",
            due.date(),
            due,
            holder,
            DeliveryState.CLAIMED,
            1,
        )
