"""`roadmap-bot digest ...` as operators and cron jobs run it: separate processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from fakes.runs import subscribe_channels


def first_monday_nine() -> str:
    """When a subscription made now first posts (Monday 09:00 UTC, the default)."""
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    due = datetime.combine(monday, time(9), tzinfo=UTC)
    if due - datetime.now(UTC) > timedelta(days=7):
        due -= timedelta(days=7)
    return due.isoformat()


DUE = first_monday_nine()
LATER = DUE.replace(":00:00+", ":30:00+")


def offline_report_url() -> str:
    """A ROADMAP_REPORT_URL on a loopback port nobody listens on: report fetches are
    refused at once and never leave the machine (subprocesses escape the offline guard)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{{name}}.md"


def cli(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    env["ROADMAP_DB"] = str(tmp_path / "groups.db")
    env["ROADMAP_REPORT_URL"] = offline_report_url()
    return subprocess.Popen(
        [sys.executable, "-m", "roadmap_bot", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = cli(tmp_path, *args)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def test_run_due_prints_console_digests_and_a_summary(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "ask", "--channel", "study", "subscribe", "web-development")
    assert code == 0, out
    code, out, err = run(tmp_path, "digest", "run-due", "--now", DUE)
    assert code == 0, err
    assert "--- #study ---\nProject of the week: React" in out
    assert "--- #study (thread) ---\nDiscussion: React" in out
    assert out.strip().endswith("delivered 1, already delivered 0, failed 0")
    code, out, _ = run(tmp_path, "digest", "run-due", "--now", LATER)
    assert out.strip() == "delivered 0, already delivered 1, failed 0"


def test_preview_and_bad_arguments(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "digest", "preview", "--channel", "study")
    assert code == 2 and "has no weekly digest" in out
    run(tmp_path, "ask", "--channel", "study", "subscribe", "beginner")
    code, out, _ = run(tmp_path, "digest", "preview", "--channel", "study")
    assert code == 0 and out.startswith("Project of the week: fzf")
    code, _, err = run(tmp_path, "digest", "run-due", "--now", "next tuesday")
    assert code == 2 and "is not an ISO-8601 instant" in err


def test_two_processes_at_once_post_each_channel_once(tmp_path: Path) -> None:
    channels = [f"room{i}" for i in range(12)]
    # subscribed in-process: twelve `ask` processes cost minutes on a busy machine, and
    # the command itself is run as a process in the tests above
    keys = [f"console:{channel}" for channel in channels]
    asyncio.run(
        subscribe_channels(tmp_path / "groups.db", keys, datetime.now(UTC), "level:beginner")
    )
    procs = [cli(tmp_path, "digest", "run-due", "--now", DUE) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    both = "".join(outputs)
    for channel in channels:
        assert both.count(f"--- #{channel} ---\n") == 1, channel
    delivered = sum(int(o.strip().splitlines()[-1].split()[1].rstrip(",")) for o in outputs)
    assert delivered == len(channels)
