"""`roadmap-bot reports refresh` as an operator or a cron job runs it: a separate process
warming the cache from a host on 127.0.0.1, then the bot answering from that cache."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

from roadmap_bot.learning.catalog import Catalog
from roadmap_bot.reports.progress import ProgressBar, progress_line
from roadmap_bot.reports.service import Reports

from .conftest import ReportHost, fixture

TIDEPOOL = fixture("tidepool")


async def cli(tmp_path: Path, host: ReportHost, *args: str) -> tuple[int, str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    env["ROADMAP_DB"] = str(tmp_path / "reports.db")
    env["ROADMAP_REPORT_URL"] = host.url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roadmap_bot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_refresh_warms_the_whole_catalog_and_counts(
    host: ReportHost, catalog: Catalog, tmp_path: Path
) -> None:
    slugs = [p.slug for p in catalog.projects]
    for slug in slugs:
        host.serve(slug, TIDEPOOL)
    del host.reports["kafka"]  # 404
    host.serve("redis", "<!DOCTYPE html><html>Rate limit exceeded</html>")

    code, out, err = await cli(tmp_path, host, "reports", "refresh", "--concurrency", "4")
    assert code == 1, err
    assert out.splitlines() == [
        f"{len(slugs)} reports: fetched {len(slugs) - 2}, unchanged 0, failed 2",
        "  failed: kafka: HTTP 404",
        "  failed: redis: an HTML page, not a Markdown report",
    ]
    assert "Traceback" not in err
    assert host.most_in_flight <= 4
    assert {s.path for s in host.seen} == {f"/oss/{slug}.md" for slug in slugs}

    host.serve("kafka", TIDEPOOL)
    host.serve("redis", TIDEPOOL)
    code, out, err = await cli(tmp_path, host, "reports", "refresh")
    assert code == 0, err
    assert out.splitlines() == [
        f"{len(slugs)} reports: fetched 2, unchanged {len(slugs) - 2}, failed 0"
    ]
    assert sum(1 for s in host.seen if s.status == 304) == len(slugs) - 2

    # the source goes away; the bot answers from what the refresh cached
    await host.stop()
    code, out, err = await cli(tmp_path, host, "ask", "report", "kafka")
    assert code == 0, err
    assert "1. One Append-Only Log per Partition" in out
    assert "#key-takeaways" in out
    code, out, err = await cli(tmp_path, host, "ask", "project", "fzf")
    assert "Design decisions to look for" in out


async def test_refresh_refuses_a_bad_concurrency(host: ReportHost, tmp_path: Path) -> None:
    code, _out, err = await cli(tmp_path, host, "reports", "refresh", "--concurrency", "0")
    assert code == 2
    assert "'0' is not a number from 1 to 32" in err
    assert host.seen == []


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_the_progress_bar_redraws_in_place_on_a_terminal_only(
    reports: Reports, host: ReportHost
) -> None:
    slugs = [f"r{i}" for i in range(5)]
    for slug in slugs[:4]:
        host.serve(slug, TIDEPOOL)
    terminal, pipe = Terminal(), io.StringIO()
    bars = [ProgressBar(len(slugs), terminal), ProgressBar(len(slugs), pipe)]

    def both(result, summary):  # type: ignore[no-untyped-def]
        for bar in bars:
            bar(result, summary)

    summary = await reports.refresh_all(slugs, progress=both)
    for bar in bars:
        bar.finish()
    frames = terminal.getvalue().split("\r")[1:]
    assert len(frames) == len(slugs)
    assert frames[0].startswith("█████░░░░░░░░░░░░░░░░░░░ 1/5")
    assert frames[-1] == progress_line(summary, len(slugs)) + "\n"
    assert frames[-1].startswith("████████████████████████ 5/5  fetched 4, unchanged 0, failed 1")
    assert pipe.getvalue() == ""
