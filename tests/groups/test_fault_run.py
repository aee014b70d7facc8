"""The fault-injection run (bench/bench_delivery_faults.py), small enough for every CI run:
two real run-due workers, one killed mid-run and restarted, 429s over and under the cap,
ambiguous and lost answers; every week must end sent exactly once, threads included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_delivery_faults.py"


def test_a_small_fault_run_ends_with_every_week_sent_exactly_once() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--channels", "60", "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = done.stdout.strip().splitlines()[-1]
    assert "duplicates 0, lost 0, threads exactly once 60" in result
    assert result.endswith("ok")
