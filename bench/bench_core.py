"""Core throughput and search latency (issue 2 targets).

- commands per second through the core (parse, handle with a real SQLite store, render
  text) for a level list, a project card, a search and `next` (with a followed path and
  without): target >= 5,000/s each, one core; `next` is also quoted as a ratio to the
  level list measured in the same run;
- search over a synthetic 10,000-project catalog: target p95 <= 5 ms.

Run: .venv/bin/python bench/bench_core.py  (SQLite; ROADMAP_BENCH_DATABASE_URL=postgresql://...
for the command part on a PostgreSQL server)
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.clock import SystemClock
from roadmap_bot.learning.catalog import Catalog, Level, Project, load_catalog
from roadmap_bot.learning.search import SearchIndex
from roadmap_bot.store import Status
from roadmap_bot.store.sql import SqlStore

COMMANDS = {
    "level list": "intermediate",
    "project card": "project kafka",
    "search": "search raft",
    "search paged": "search go page 3",  # 47 hits, every one reachable: one page shown
    "search cold": "search raft",  # the query cache is emptied before every command
    "search cold 2": "search pluggable databases",  # stems and synonyms, uncached
    "next": "next",
}
ROUNDS = 3000


async def throughput(catalog: Catalog, db: Path | str, concurrency: int) -> dict[str, float]:
    """Commands per second with ``concurrency`` users asking at once (1: one after another)."""
    store = await SqlStore.open(db)
    roadmap = Roadmap(catalog, store, SystemClock())
    askers = [Asker(id=f"console:bench{i}", name=f"bench{i}") for i in range(concurrency)]
    followers = [Asker(id=f"console:follower{i}", name=f"f{i}") for i in range(concurrency)]
    for asker in (*askers, *followers):
        for slug in ("fzf", "redis", "etcd", "kafka"):
            await store.set_mark(asker.id, slug, Status.DONE, SystemClock().now())
    for asker in followers:
        await store.follow(asker.id, "observability-stack", SystemClock().now())

    async def user(asker: Asker, text: str, rounds: int, cold: bool) -> None:
        for _ in range(rounds):
            if cold:
                roadmap.index._cache.clear()
            render_text(await roadmap.ask(text, asker))

    results = {}
    runs = [(label, text, askers) for label, text in COMMANDS.items()]
    runs.append(("next (path)", "next", followers))
    for label, text, who in runs:
        cold = "cold" in label
        await asyncio.gather(*(user(a, text, 20, cold) for a in who))  # warm up
        rounds = ROUNDS // concurrency
        start = time.perf_counter()
        await asyncio.gather(*(user(a, text, rounds, cold) for a in who))
        results[label] = rounds * concurrency / (time.perf_counter() - start)
    await store.close()
    return results


def synthetic_catalog(base: Catalog, size: int, seed: int = 1) -> list[Project]:
    """10,000 projects with realistic words: names, summaries and tags from the real ones."""
    rng = random.Random(seed)
    words = [w for p in base.projects for w in p.summary.rstrip(".").split()]
    tags = list(base.concepts)
    languages = sorted({p.language for p in base.projects})
    categories = sorted({p.category for p in base.projects})
    projects = []
    for i in range(size):
        stem = rng.choice(base.projects).slug
        projects.append(
            Project(
                slug=f"{stem}-{i}",
                name=f"{stem.title()} {i}",
                level=rng.choice(list(Level)),
                summary=" ".join(rng.choices(words, k=rng.randint(12, 24))) + ".",
                concepts=tuple(rng.sample(tags, rng.randint(3, 6))),
                repository=f"https://example.org/{stem}/{i}",
                language=rng.choice(languages),
                category=rng.choice(categories),
                report_url=f"https://example.org/{stem}/{i}.md",
            )
        )
    return projects


def search_latency(base: Catalog) -> tuple[float, float, float, int]:
    projects = synthetic_catalog(base, 10_000)
    started = time.perf_counter()
    index = SearchIndex(projects, base.concepts, base.synonyms)
    build_ms = (time.perf_counter() - started) * 1000
    rng = random.Random(2)
    queries = (
        ["raft", "event loop", "go", "rust database", "kafka", "distributed storage", "kube"]
        + [rng.choice(projects).name for _ in range(50)]
        + [" ".join(rng.sample(p.summary.split(), 2)) for p in rng.sample(projects, 100)]
        + ["zzzz", "kafak", "clickhuose"]
    )
    timings = []
    for _ in range(3):
        for query in queries:
            index._cache.clear()  # measure the search itself, not the query cache
            start = time.perf_counter()
            index.search(query)  # every hit, ranked: nothing is cut any more
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95)]
    return p50, p95, build_ms, len(queries)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, honestly
    catalog = load_catalog()
    for concurrency in (1, 32):
        with tempfile.TemporaryDirectory() as folder:
            # ROADMAP_BENCH_DATABASE_URL=postgresql://... measures the same on a server
            where = os.environ.get("ROADMAP_BENCH_DATABASE_URL") or Path(folder) / "bench.db"
            rates = asyncio.run(throughput(catalog, where, concurrency))
        for label, rate in rates.items():
            verdict = "ok" if rate >= 5000 else "BELOW TARGET"
            ratio = ""
            if label.startswith("next"):
                ratio = f"  ({rate / rates['level list']:.2f}x the level list)"
            print(
                f"{label:<13} {concurrency:>2} at once {rate:8.0f} commands/s "
                f"(target >= 5,000/s)  {verdict}{ratio}"
            )
    p50, p95, build_ms, count = search_latency(catalog)
    verdict = "ok" if p95 <= 5 else "ABOVE TARGET"
    print(
        f"search 10k    p50 {p50:.2f} ms  p95 {p95:.2f} ms over {count * 3} queries "
        f"(uncached; target p95 <= 5 ms)  {verdict}; index built in {build_ms:.0f} ms"
    )


if __name__ == "__main__":
    main()
