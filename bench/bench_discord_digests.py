"""One week's digests to many Discord channels through the fake Discord (run by hand).

N channels subscribed at the same slot (Monday 09:00 UTC) get their weekly post, thread
and prompts through the real REST poster and deliverer, against the fake Discord (in a
process of its own, as Discord's work is not the bot's) with
a latency on every call, a share of message posts answered 429 with Retry-After, and a
share of posts whose answer is lost after Discord took them (the deliverer then looks in
the channel's history, or the nonce makes the retry return the first message).

Reports wall time, posts, duplicates (a channel with more than one digest) and losses
(a channel with none), then runs again to show that nothing is posted twice. The issue's
target for the same load through the fake Slack: 2,000 channels in <= 15 s, zero
duplicates, zero losses.

Run: .venv/bin/python bench/bench_discord_digests.py [--channels 2000] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from datetime import time as clock_time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes.discord_server import FakeDiscord
from roadmap_bot.adapters.discord.poster import open_poster
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import load_settings
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.learning.catalog import load_catalog
from roadmap_bot.store.digests import DeliveryState, DigestStore
from roadmap_bot.store.sql import SqlStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TARGET_SECONDS = 15.0


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per REST call")
    parser.add_argument("--rate-limited", type=float, default=0.02, help="share of posts 429'd")
    parser.add_argument("--retry-after", type=float, default=1.0, help="seconds, in each 429")
    parser.add_argument("--lost", type=float, default=0.005, help="share of answers lost")
    parser.add_argument("--concurrency", type=int, default=64)
    return parser.parse_args()


def run_fake(conn: Connection, args: argparse.Namespace) -> None:
    """The fake Discord in its own process: its work is not the bot's (Discord does it)."""
    asyncio.run(_run_fake(conn, args))


async def _run_fake(conn: Connection, args: argparse.Namespace) -> None:
    async with FakeDiscord() as fake:
        guild = fake.guild
        for n in range(args.channels - 1):
            guild.add_channel(f"study-{n}")
        fake.clock = FixedClock(DUE).now
        fake.latency = args.latency
        messages = r"/channels/\d+/messages"
        limited = fake.script(
            "POST",
            messages,
            status=429,
            retry_after=args.retry_after,
            times=None,
            chance=args.rate_limited,
        )
        lost = fake.script("POST", messages, drop=True, times=None, chance=args.lost)
        conn.send((fake.api_url, fake.token, guild.id, [c.id for c in guild.channels]))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # the bot is done
        channels = {c.id for c in guild.channels}
        posts = Counter(
            int(m["channel_id"])
            for m in fake.messages.values()
            if int(m["channel_id"]) in channels and m.get("embeds")
        )
        conn.send(
            {
                "posts": sum(posts.values()),
                "duplicates": sum(n - 1 for n in posts.values() if n > 1),
                "losses": len(channels - set(posts)),
                "threads": len(fake.threads),
                "prompts": sum(
                    1 for m in fake.messages.values() if int(m["channel_id"]) in fake.threads
                ),
                "calls": len(fake.requests),
                "limited": limited.hits,
                "lost": lost.hits,
            }
        )


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)  # 429 warnings from discord.py are expected
    catalog = load_catalog()
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    fake = multiprocessing.get_context("spawn").Process(target=run_fake, args=(theirs, args))
    fake.start()
    try:
        api_url, token, guild, channels = ours.recv()
        clock = FixedClock(DUE)
        with tempfile.TemporaryDirectory() as folder:
            store = await SqlStore.open(Path(folder) / "bench.db")
            try:
                digests = DigestStore(store)
                schedule = Schedule(0, clock_time(9, 0), "UTC")
                keys = [f"discord:{guild}:{channel}" for channel in channels]
                for key in keys:
                    await digests.subscribe(key, "level:beginner", schedule, "discord:1:1", NOW)
                settings = load_settings(DISCORD_TOKEN=token, DISCORD_API_URL=api_url)
                async with open_poster(settings) as poster:
                    deliverer = Deliverer(
                        catalog, store, clock, {"discord": poster}, concurrency=args.concurrency
                    )
                    started = time.perf_counter()
                    summary = await deliverer.run_due(DUE)
                    wall = time.perf_counter() - started
                    again = await deliverer.run_due(DUE)
                states: Counter[DeliveryState] = Counter()
                for key in keys:
                    states.update(d.state for d in await digests.deliveries(key, limit=5))
            finally:
                await store.close()
        ours.send("stats")
        seen = ours.recv()
    finally:
        fake.join(10)
        if fake.is_alive():
            fake.terminate()
    print(
        f"{args.channels} channels, {args.latency * 1000:.0f} ms per call, "
        f"{args.rate_limited:.0%} of posts 429 (Retry-After {args.retry_after:g} s), "
        f"{args.lost:.1%} of answers lost, concurrency {args.concurrency}"
    )
    print(
        f"wall {wall:.2f} s (Slack's target, 2,000 in {TARGET_SECONDS:g} s): {summary.line()}; "
        f"{seen['calls']} REST calls, {seen['limited']} answered 429, "
        f"{seen['lost']} answers lost"
    )
    print(
        f"posts {seen['posts']}, threads {seen['threads']}, prompts {seen['prompts']}, "
        f"duplicates {seen['duplicates']}, losses {seen['losses']}; ledger "
        + ", ".join(f"{state.value} {n}" for state, n in sorted(states.items()))
    )
    print(f"second run: {again.line()}")
    sent = states[DeliveryState.SENT]
    ok = seen["duplicates"] == 0 and seen["losses"] == 0 and sent == args.channels
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(arguments())))
