"""Write release-0.1.db: one of every kind of row, through roadmap-bot 0.1's own store.

Run it with the source of the last release before Alembic (commit 887ddf7) on PYTHONPATH,
not with the current tree:

    git worktree add --detach /tmp/release 887ddf7
    PYTHONPATH=/tmp/release/src .venv/bin/python tests/store/data/make_release_db.py

tests/store/test_migrations.py upgrades a copy of the file and checks every row below.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from roadmap_bot.store.sqlite import SqliteStore  # type: ignore[import-not-found, unused-ignore]

from roadmap_bot.groups.schedule import Schedule  # type: ignore[import-not-found, unused-ignore]
from roadmap_bot.reports.outline import Anchor, Outline
from roadmap_bot.store import Status
from roadmap_bot.store.digests import (  # type: ignore[attr-defined, unused-ignore]
    ClaimRequest,
    Completion,
    DeliveryState,
    DigestStore,
    Recorded,
)
from roadmap_bot.store.reports import CachedReport, ReportCache  # type: ignore[attr-defined, unused-ignore]

OUT = Path(__file__).with_name("release-0.1.db")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def main() -> None:
    OUT.unlink(missing_ok=True)
    store = await SqliteStore.open(OUT)
    digests = DigestStore(store)
    await store.remember_user("slack:T1:U1", "Ada", T0)
    await store.remember_user("discord:9:7", "Grace Hopper", T0 + timedelta(seconds=1))
    await store.set_mark("slack:T1:U1", "redis", Status.DONE, T0)
    await store.set_mark("slack:T1:U1", "kafka", Status.READING, T0 + timedelta(hours=1))
    await store.set_mark("discord:9:7", "etcd", Status.SKIPPED, T0 + timedelta(days=1))
    await store.set_meta("catalog_version", "2026-11")

    weekly = Schedule(0, time(9, 0), "Europe/Berlin")
    sub, _ = await digests.subscribe("slack:T1:C1", "path:storage", weekly, "slack:T1:U1", T0)
    old, _ = await digests.subscribe(
        "discord:9:5", "level:beginner", Schedule(4, time(17, 30), "UTC"), "discord:9:7", T0
    )
    await digests.end(old.id, "unsubscribed", T0 + timedelta(days=2))
    paused, _ = await digests.subscribe(
        "console:study", "level:advanced", Schedule(2, time(8, 0), "Asia/Tokyo"), "console:a", T0
    )
    await digests.set_pause(paused.id, date(2026, 12, 24))
    await digests.set_problem(paused.id, "channel_not_found")

    weeks = [(date(2026, 11, 30) + timedelta(weeks=n)) for n in range(4)]
    dues = [weekly.occurrence(w) for w in weeks]
    claims = await digests.claim_many(
        [ClaimRequest(sub, w, d) for w, d in zip(weeks[:3], dues[:3], strict=True)],
        "host:1",
        dues[0],
        timedelta(minutes=10),
    )
    sent, failed, _claimed = (c.delivery for c in claims)
    await digests.complete_many(
        [Completion(sent, "1764489600.000100", dues[0], dues[1], "digest", "redis")]
    )
    await digests.fail(failed, "rate_limited")
    await digests.record_many(
        [Recorded(sub, [(weeks[3], dues[3])], DeliveryState.MISSED, dues[3] + timedelta(weeks=1))]
    )
    await digests.cover("slack:T1:C1", "kafka", "skipped", T0)
    await digests.remember_member("slack:T1:C1", "slack:T1:U1", T0)

    cache = ReportCache(store)
    outline = Outline(
        name="Redis",
        release="7.2.4",
        sections=(Anchor(title="Overview", anchor="overview"),),
        decisions=(Anchor(title="Single-threaded event loop", anchor="1-event-loop"),),
        takeaways=("Keep the hot path simple",),
    )
    await cache.put(
        CachedReport("redis", "https://example.org/redis.md", 3, outline, etag='"abc"',
                     last_modified="Mon, 23 Nov 2026 09:00:00 GMT", fetched_at=T0, checked_at=T0)
    )  # fmt: skip
    await cache.put(
        CachedReport("nope", "https://example.org/nope.md", 3, problem="404 Not Found",
                     failed_at=T0, failure="timeout")
    )  # fmt: skip
    await store.close()
    conn = sqlite3.connect(OUT)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to commit
    conn.execute("VACUUM")
    conn.close()


if __name__ == "__main__":
    asyncio.run(main())
