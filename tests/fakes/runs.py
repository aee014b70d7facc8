"""Real `roadmap-bot` processes for tests that need a process boundary (kill -9, two workers).

Each process gets a clean environment (none of the developer's ROADMAP_/SLACK_/DISCORD_
variables) plus what the test passes, and runs in the test's temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.digests import DigestStore
from roadmap_bot.store.sql import SqlStore


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    env.update(extra)
    return env


async def subscribe_channels(
    db: Path, channels: list[str], created: datetime, target: str = "path:web-development"
) -> None:
    """Weekly Monday 09:00 UTC digests for these channels, as if subscribed at ``created``."""
    store = await SqlStore.open(db)
    try:
        digests = DigestStore(store)
        for channel in channels:
            await digests.subscribe(channel, target, Schedule(0, time(9), "UTC"), "t:U1", created)
    finally:
        await store.close()


@dataclass
class Run:
    """A running `roadmap-bot` process."""

    process: asyncio.subprocess.Process

    async def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(self.process.communicate(), timeout)
        assert self.process.returncode is not None
        return self.process.returncode, out.decode(), err.decode()

    async def kill(self) -> None:
        """kill -9: no clean-up of any kind runs in the process."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.communicate(), 30)


async def start(cwd: Path, env: dict[str, str], *args: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roadmap_bot",
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Run(process)


async def run_due(cwd: Path, env: dict[str, str], now: datetime) -> Run:
    return await start(cwd, env, "digest", "run-due", "--now", now.isoformat())
