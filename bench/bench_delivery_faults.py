"""Fault-injection run: one week's digests to 500 Slack channels under faults, two workers.

The fake Slack (in this process) answers every call after 20 ms, gives a seeded 5% of
posts a 429 with a 3 s Retry-After (under the deliverer's 60 s cap: waited out by that
channel alone), gives 10 channels a 429 with a 900 s Retry-After (over the cap: handed
back and retried by a later run), answers 3% of posts that it did carry out with
``internal_error`` / ``fatal_error`` and loses the answers of 5 more (502 after posting).

Real ``roadmap-bot digest run-due`` processes do the work, on one SQLite file:

1. workers A and B start together; the one that holds the week's leases (A) is killed
   (kill -9) when about 30% of the week is out; B finishes;
2. ten minutes later by the schedule's clock (A's leases have expired) A is restarted,
   beside a second run of B: they take over what A left, checking the channel first;
3. half an hour after the due time a last run posts the weeks handed back by the long
   Retry-After.

At the end the fake's own record is checked: every channel has exactly one digest
(carrying its delivery id) and exactly one thread reply under it, the ledger has every
week sent with no thread owed, and, in the first phase, no channel that never got a 429
posted later than the shortest Retry-After anyone waited (no channel waited for another's).

Bounded and self-stopping: each process has a timeout, the fake serves only 127.0.0.1.

Run: .venv/bin/python bench/bench_delivery_faults.py [--channels N] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fakes.runs import clean_env, run_due, subscribe_channels  # noqa: E402
from fakes.slack_api import Answer, FakeSlack  # noqa: E402
from fakes.slack_requests import BOT_TOKEN, SIGNING_SECRET  # noqa: E402

CREATED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATENCY = 0.020
RATE_LIMITED = 0.05
IN_CAP = 3.0  # seconds: a Retry-After the deliverer waits out
OVER_CAP = 900.0  # seconds: above the 60 s cap, handed back
AMBIGUOUS = 0.03
LOST = 5
PROCESS_TIMEOUT = 300.0


def top_level(fake: FakeSlack) -> list[tuple[str, float, int]]:
    """(channel, arrival, status) of every digest post the fake received."""
    return [
        (str(c.params.get("channel")), c.at, c.status)
        for c in fake.calls_to("chat.postMessage")
        if "thread_ts" not in c.params
    ]


async def bench(channels: int, seed: int) -> bool:
    rng = random.Random(seed)
    names = [f"C{i:04d}" for i in range(channels)]
    folder = Path(tempfile.mkdtemp())
    db = folder / "digests.db"
    await subscribe_channels(db, [f"slack:T1:{n}" for n in names], CREATED)
    async with FakeSlack() as fake:
        fake.latency["*"] = LATENCY
        fake.now = DUE.timestamp
        fake.rate_limit("chat.postMessage", ratio=RATE_LIMITED, retry_after=IN_CAP, seed=seed)
        over_cap = rng.sample(names, k=max(1, channels // 50))
        limited = {"ok": False, "error": "ratelimited"}
        for name in over_cap:
            fake.script_channel(
                "chat.postMessage",
                name,
                Answer(429, limited, headers={"Retry-After": f"{OVER_CAP:g}"}),
            )
        errors = [
            rng.choice(["internal_error", "fatal_error"]) if rng.random() < AMBIGUOUS else ""
            for _ in range(4 * channels)
        ]
        fake.ambiguous["chat.postMessage"] = list(errors)
        fake.lose_answers["chat.postMessage"] = LOST
        env = clean_env(
            ROADMAP_DB=str(db),
            ROADMAP_LOG_LEVEL="WARNING",
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            ROADMAP_REPORT_URL=fake.url + "/oss/{name}.md",
        )
        started = time.perf_counter()

        # 1. two workers start together; the one holding the week's leases is killed mid-run
        first, second = await run_due(folder, env, DUE), await run_due(folder, env, DUE)
        await _until(lambda: len(top_level(fake)) >= 1)
        phase_one_start = min(at for _, at, _ in top_level(fake))
        await _until(lambda: sum(1 for _, _, s in top_level(fake) if s == 200) >= channels * 0.3)
        holder = _lease_holder(db)
        worker_a, worker_b = (first, second) if first.process.pid == holder else (second, first)
        await worker_a.kill()
        killed_after = sum(1 for _, _, s in top_level(fake) if s == 200)
        _, b_out, b_err = await worker_b.finish(PROCESS_TIMEOUT)
        phase_one = top_level(fake)
        took_one = time.perf_counter() - started

        # 2. A restarted after its leases expired, beside B again
        restarted = await run_due(folder, env, DUE + timedelta(minutes=10))
        again_b = await run_due(folder, env, DUE + timedelta(minutes=10))
        _, a2_out, a2_err = await restarted.finish(PROCESS_TIMEOUT)
        _, b2_out, b2_err = await again_b.finish(PROCESS_TIMEOUT)

        # 3. the weeks handed back by the long Retry-After (900 s from phase 2 at the latest)
        sweep = await run_due(folder, env, DUE + timedelta(minutes=30))
        _, c_out, c_err = await sweep.finish(PROCESS_TIMEOUT)
        took = time.perf_counter() - started

        # -- what Slack has --------------------------------------------------------------
        duplicates, lost, threads_ok = [], [], 0
        for name in names:
            posts = [m for m in fake.messages[name] if "thread_ts" not in m]
            if len(posts) > 1:
                duplicates.append(name)
            if not posts:
                lost.append(name)
                continue
            replies = [m for m in fake.messages[name] if m.get("thread_ts") == posts[0]["ts"]]
            threads_ok += len(replies) == 1
        rows = sqlite3.connect(db).execute(
            "SELECT state, count(*), sum(discussion IS NOT NULL) FROM deliveries GROUP BY state"
        )
        ledger = {state: (count, owed) for state, count, owed in rows}
        statuses = [s for _, _, s in top_level(fake)]
        ambiguous_sent = sum(1 for e in errors if e) - sum(
            1 for e in fake.ambiguous["chat.postMessage"] if e
        )
        lookups = len(fake.calls_to("conversations.history"))
        thread_lookups = len(fake.calls_to("conversations.replies"))

        # -- isolation: in phase 1, channels that never got a 429 did not wait ---------------
        limited_channels = {c for c, _, s in phase_one if s == 429}
        free_arrivals = [
            at - phase_one_start for c, at, s in phase_one if s == 200 and c not in limited_channels
        ]
        latest_free = max(free_arrivals) if free_arrivals else 0.0

    sent = ledger.get("sent", (0, 0))
    ok = (
        not duplicates
        and not lost
        and threads_ok == channels
        and sent == (channels, 0)
        and len(ledger) == 1
        and latest_free < IN_CAP
    )
    print(
        f"{channels} channels, {LATENCY * 1000:.0f} ms per call, {RATE_LIMITED:.0%} of posts 429 "
        f"(Retry-After {IN_CAP:g} s), {len(over_cap)} channels 429 with Retry-After "
        f"{OVER_CAP:g} s (cap 60 s), {AMBIGUOUS:.0%} internal_error/fatal_error after "
        f"posting, {LOST} answers lost; seed {seed}"
    )
    print(
        f"phase 1 ({took_one:.1f} s): A killed after {killed_after} posts; "
        f"B: {b_out.strip() or b_err.strip()[-200:]}"
    )
    print(f"phase 2: A restarted: {a2_out.strip() or a2_err.strip()[-200:]}")
    print(f"         B again:     {b2_out.strip() or b2_err.strip()[-200:]}")
    print(f"phase 3: sweep:       {c_out.strip() or c_err.strip()[-200:]}")
    print(
        f"Slack: {len(statuses)} digest posts tried, {statuses.count(429)} answered 429, "
        f"{ambiguous_sent} ambiguous answers, {LOST} lost answers; {lookups} history "
        f"lookups, {thread_lookups} thread lookups"
    )
    print(
        f"result: {channels - len(duplicates) - len(lost)} channels with exactly one digest, "
        f"duplicates {len(duplicates)}, lost {len(lost)}, threads exactly once {threads_ok}; "
        f"ledger {ledger}; latest post of a never-limited channel in phase 1: "
        f"{latest_free:.2f} s after the first (a Retry-After is {IN_CAP:g} s); total {took:.1f} s"
        f"  {'ok' if ok else 'FAILED'}"
    )
    return ok


def _lease_holder(db: Path) -> int:
    """The process id in most live claims (owner ids are 'host:pid:tag/run')."""
    owners = sqlite3.connect(db).execute(
        "SELECT claimed_by, count(*) FROM deliveries WHERE state = 'claimed' "
        "GROUP BY claimed_by ORDER BY count(*) DESC LIMIT 1"
    )
    owner = str(next(iter(owners))[0])
    return int(owner.split(":")[1])


async def _until(condition: object, timeout: float = PROCESS_TIMEOUT) -> None:
    assert callable(condition)
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the fault run stalled")
        await asyncio.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("ROADMAP_LOG_LEVEL", "WARNING")
    ok = asyncio.run(asyncio.wait_for(bench(args.channels, args.seed), 4 * PROCESS_TIMEOUT))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
