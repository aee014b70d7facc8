"""What counting for /metrics costs the core: commands per second with and without the
Prometheus recorder installed, alternating in one run (target: within 10 %), and the
recorder's own cost per command measured alone (steadier on a busy machine).

Run: .venv/bin/python bench/bench_metrics.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench_core import throughput
from roadmap_bot import metrics
from roadmap_bot.learning.catalog import load_catalog
from roadmap_bot.web.metrics import PrometheusRecorder

PAIRS = 3
CALLS = 200_000


def per_command_cost() -> float:
    """Microseconds one answered command spends in the Prometheus recorder."""
    recorder = PrometheusRecorder()
    kinds = ["show_project", "show_level", "search", "next"]
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for i in range(CALLS):
            recorder.command("slack", kinds[i & 3], "ok", 0.002)
        best = min(best, (time.perf_counter() - start) / CALLS * 1e6)
    return best


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, honestly
    catalog = load_catalog()
    ratios: dict[str, list[float]] = {}
    rates: dict[str, dict[str, list[float]]] = {"without": {}, "with": {}}
    for _ in range(PAIRS):
        for mode in ("without", "with"):
            previous = metrics.install(PrometheusRecorder() if mode == "with" else metrics.NOTHING)
            try:
                with tempfile.TemporaryDirectory() as folder:
                    measured = asyncio.run(throughput(catalog, Path(folder) / "bench.db", 1))
            finally:
                metrics.install(previous)
            for label, rate in measured.items():
                rates[mode].setdefault(label, []).append(rate)
    for label in rates["without"]:
        plain = statistics.median(rates["without"][label])
        counted = statistics.median(rates["with"][label])
        ratios[label] = counted / plain
        verdict = "ok" if counted >= 0.9 * plain else "SLOWER THAN TARGET"
        print(
            f"{label:<13} {plain:8.0f} commands/s without metrics, {counted:8.0f} with "
            f"({counted / plain:.1%}; target >= 90 %)  {verdict}"
        )
    cost = per_command_cost()
    fastest = max(statistics.median(r) for r in rates["without"].values())
    share = cost * fastest / 1e6
    print(
        f"the recorder alone: {cost:.2f} us per command = {share:.1%} of a command at "
        f"{fastest:.0f}/s (the fastest above; target <= 10 %)  {'ok' if share <= 0.1 else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
