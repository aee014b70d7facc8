"""Marks from memory under write traffic (issue 13's row: >= 90% of marks reads served
from cache with 45% done/undo commands; issue 11: caching stays correct across replicas).

Through the core (parse, handle with a real store, render text), 32 commands in flight,
2,000 people who already used the bot once: 45% are `done X` / `undo X` on one of 20
projects, the rest read marks (`intermediate`, `project kafka`, `next`, `progress`). It
prints the share of people's marks served from memory (counted the same way on any
version of the store: people asked of ``progress_of`` versus people fetched by
``_fetch_marks``) and commands per second, on SQLite and on a throwaway PostgreSQL
server; then the same traffic split over two stores on one database (two replicas
behind a load balancer: each one's writes drop the other's entry for that person, so
its hit rate is lower by design).

Run: .venv/bin/python bench/bench_marks.py [sqlite] [postgresql]   (PYTHONPATH=OTHER/src
measures another checkout's store with the same traffic, e.g. main before this cache)
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.clock import SystemClock
from roadmap_bot.learning.catalog import Catalog, load_catalog
from roadmap_bot.store import Mark, Status
from roadmap_bot.store import schema as t
from roadmap_bot.store.sql import SqlStore

PEOPLE = 2_000
COMMANDS = 12_000
IN_FLIGHT = 32
WRITES = 0.45
READS = ("intermediate", "project kafka", "next", "progress")
TARGET = 0.90


@dataclass
class Counted:
    """People asked for and people fetched, by wrapping the store's two marks reads."""

    asked: int = 0
    fetched: int = 0

    def watch(self, store: SqlStore) -> None:
        progress_of, fetch = store.progress_of, store._fetch_marks

        async def counted_progress_of(users: Iterable[str]) -> dict[str, dict[str, Mark]]:
            wanted = list(dict.fromkeys(users))
            self.asked += len(wanted)
            return await progress_of(wanted)

        async def counted_fetch(wanted: list[str]) -> dict[str, dict[str, Mark]]:
            self.fetched += len(wanted)
            return await fetch(wanted)

        store.progress_of = counted_progress_of  # type: ignore[method-assign]
        store._fetch_marks = counted_fetch  # type: ignore[method-assign]

    def hit_rate(self) -> float:
        return 1 - self.fetched / self.asked if self.asked else 0.0


def traffic(catalog: Catalog, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    slugs = [p.slug for p in catalog.projects[:20]]
    commands = []
    for _ in range(COMMANDS):
        person = rng.randrange(PEOPLE)
        if rng.random() < WRITES:
            commands.append((person, f"{rng.choice(('done', 'undo'))} {rng.choice(slugs)}"))
        else:
            commands.append((person, rng.choice(READS)))
    return commands


async def run(catalog: Catalog, where: str, replicas: int) -> tuple[float, float]:
    """(share of marks reads served from memory, commands per second)."""
    stores = [await SqlStore.open(where) for _ in range(replicas)]
    counted = Counted()
    for store in stores:
        counted.watch(store)
    roadmaps = [Roadmap(catalog, s, SystemClock(), rng=random.Random(1)) for s in stores]
    people = [Asker(id=f"console:p{i}", name=f"p{i}") for i in range(PEOPLE)]
    rng = random.Random(3)
    slugs = [p.slug for p in catalog.projects[:20]]
    now = SystemClock().now()
    async with stores[0].write() as conn:  # everyone has a few marks ...
        await conn.execute(
            t.progress.insert(),
            [
                {"user_id": p.id, "project": slug, "status": Status.DONE.value, "updated_at": now}
                for p in people
                for slug in rng.sample(slugs, 4)
            ],
        )
    for roadmap in roadmaps:  # ... and used the bot once already
        for person in people:
            render_text(await roadmap.ask("progress", person))
    await asyncio.sleep(0.2)  # PostgreSQL: the set-up's notifications arrive first
    counted.asked = counted.fetched = 0

    queue = traffic(catalog, seed=len(stores))
    picks = random.Random(5)
    lanes: list[list[tuple[Roadmap, Asker, str]]] = [[] for _ in range(IN_FLIGHT)]
    for person, text in queue:  # one person's commands stay in one lane, in order
        lanes[person % IN_FLIGHT].append((picks.choice(roadmaps), people[person], text))

    async def lane(commands: list[tuple[Roadmap, Asker, str]]) -> None:
        for roadmap, asker, text in commands:
            render_text(await roadmap.ask(text, asker))

    started = time.perf_counter()
    await asyncio.gather(*(lane(commands) for commands in lanes))
    rate = len(queue) / (time.perf_counter() - started)
    for store in stores:
        await store.close()
    return counted.hit_rate(), rate


def report(engine: str, replicas: int, found: tuple[float, float]) -> None:
    hit_rate, rate = found
    verdict = ""
    if replicas == 1:
        verdict = "  ok" if hit_rate >= TARGET else "  BELOW TARGET"
    print(
        f"{engine:<10} {replicas} store{'s' if replicas > 1 else ' '} {WRITES:.0%} done/undo: "
        f"marks from memory {hit_rate:6.1%} (target >= {TARGET:.0%} with one store){verdict}; "
        f"{rate:7.0f} commands/s at {IN_FLIGHT} in flight"
    )


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, honestly
    catalog = load_catalog()
    engines = sys.argv[1:] or ["sqlite", "postgresql"]
    for replicas in (1, 2) if "sqlite" in engines else ():
        with tempfile.TemporaryDirectory() as folder:
            where = str(Path(folder) / "marks.db")
            report("sqlite", replicas, asyncio.run(run(catalog, where, replicas)))
    if "postgresql" not in engines:
        return
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from postgres_server import PostgresServer, missing_reason

    reason = missing_reason()
    if reason is not None:
        print(f"postgresql skipped: {reason}")
        return
    server: Any = PostgresServer()
    server.start()
    try:
        for replicas in (1, 2):
            name = f"marks{replicas}"
            server_create(server, name)
            report("postgresql", replicas, asyncio.run(run(catalog, server.url(name), replicas)))
    finally:
        server.stop()


def server_create(server: Any, name: str) -> None:
    import subprocess

    createdb = [str(server.bin / "createdb"), "-h", "127.0.0.1", "-p", str(server.port)]
    subprocess.run([*createdb, "-U", "roadmap", name], check=True, capture_output=True)


if __name__ == "__main__":
    main()
