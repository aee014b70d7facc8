"""Each platform adapter runs on its own: one that fails is started again, the rest go on.

``serve`` runs Slack, Discord, the web server and the digest scheduler side by side. When
a platform's client fails for anything but its configuration (Discord's gateway sends
something discord.py cannot read, its login meets a lost connection, Socket Mode cannot
connect), one line is logged, with what failed and where, never the event's payload
(interaction tokens live there), and the client is started again after a capped,
jittered, exponentially growing delay. A configuration error (a rejected token, a port
that cannot be had) still ends ``serve`` with its one-line reason.

Each adapter's state is kept here for ``/healthz`` ("ok", "connecting (retry 3 in 8 s)").
Stdlib only: ``app.py`` holds the states, and importing this costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from roadmap_bot.retry import backoff as retry_delay

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0  # seconds before the first restart (at most; jitter takes up to half off)
BACKOFF_CAP = 60.0  # no restart waits longer than this
# A client that ran this long before failing was healthy: its backoff starts over.
HEALTHY_AFTER = 120.0

_CODE = ("roadmap_bot", "discord", "slack_bolt", "slack_sdk")  # packages worth naming

Run = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


def backoff(retry: int, rng: random.Random, first: float = BACKOFF_FIRST) -> float:
    """The delay before restart number ``retry`` (1, 2, ...): doubling from ``first``,
    capped at BACKOFF_CAP, with half of it random so that replicas which lost Discord
    together do not all come back in the same second."""
    return retry_delay(retry - 1, first, BACKOFF_CAP, rng)


@dataclass
class AdapterState:
    """What one adapter is doing, as ``/healthz`` shows it."""

    name: str
    clock: Callable[[], float] = time.monotonic
    phase: str = "starting"  # starting | ok | connecting | retrying
    retry: int = 0
    retry_at: float | None = None
    problem: str | None = None  # the last failure, in one line

    def connected(self) -> None:
        self.phase, self.retry, self.retry_at, self.problem = "ok", 0, None, None

    def restarting(self) -> None:
        """The wait is over: the adapter is being started again."""
        self.phase, self.retry_at = "connecting", None

    def disconnected(self, detail: str | None = None) -> None:
        """The platform library lost its connection and reconnects by itself."""
        if self.phase in ("ok", "connecting"):
            self.phase, self.problem = "connecting", detail

    def retrying(self, retry: int, delay: float, problem: str) -> None:
        self.phase, self.retry, self.problem = "retrying", retry, problem
        self.retry_at = self.clock() + delay

    def describe(self) -> str:
        if self.phase == "retrying" and self.retry_at is not None:
            wait = max(0, math.ceil(self.retry_at - self.clock()))
            return f"connecting (retry {self.retry} in {wait} s; last problem: {self.problem})"
        if self.phase == "connecting" and self.retry:
            return f"connecting (retry {self.retry}; last problem: {self.problem})"
        if self.phase == "connecting" and self.problem:
            return f"connecting ({self.problem})"
        return self.phase


@dataclass
class AdapterStates:
    """Every adapter's state, by name, for ``/healthz``."""

    clock: Callable[[], float] = time.monotonic
    _states: dict[str, AdapterState] = field(default_factory=dict)

    def __getitem__(self, name: str) -> AdapterState:
        state = self._states.get(name)
        if state is None:
            state = self._states[name] = AdapterState(name, self.clock)
        return state

    def report(self) -> dict[str, str]:
        """``{"slack": "ok", "discord": "connecting (retry 3 in 8 s; ...)"}``."""
        return {name: state.describe() for name, state in self._states.items()}


def describe(problem: BaseException) -> str:
    """A failure in one line: its type, a detail that cannot hold payload values (a
    missing field's name, an HTTP status, an OS error) and where it was raised."""
    kind = type(problem).__name__
    status = getattr(problem, "status", None)
    # aiohttp's 'code' is a deprecated alias of its status; Discord's is its JSON code
    code = (
        None if type(problem).__module__.startswith("aiohttp") else getattr(problem, "code", None)
    )
    if isinstance(problem, KeyError) and problem.args:
        detail = f"no field {problem.args[0]!r}"
    elif isinstance(status, int):
        own = isinstance(code, int) and code not in (0, status)
        detail = f"HTTP {status}" + (f", code {code}" if own else "")
    elif isinstance(code, int):
        detail = f"code {code}"  # a gateway close code
    elif isinstance(problem, OSError) and problem.strerror:
        detail = problem.strerror
    else:
        detail = ""
    frames = traceback.extract_tb(problem.__traceback__)
    # The innermost frame of the bot or its platform library says more than json's or
    # asyncio's own (``gateway.py:516`` rather than ``decoder.py:355``).
    ours = [f for f in frames if any(p in Path(f.filename).parts for p in _CODE)]
    found = ours or frames
    where = f" at {Path(found[-1].filename).name}:{found[-1].lineno}" if found else ""
    return f"{kind}{f' ({detail})' if detail else ''}{where}"


async def supervise(
    name: str,
    run: Run,
    state: AdapterState,
    *,
    fatal: tuple[type[BaseException], ...],
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    first: float = BACKOFF_FIRST,
) -> None:
    """Run ``run`` until cancelled, starting it again whenever it fails or ends, with
    backoff; an exception of a ``fatal`` type (a configuration error) is raised."""
    rng = rng or random.Random()
    retry = 0
    while True:
        started = state.clock()
        try:
            await run()
            problem = "it stopped"
        except fatal:
            raise
        except Exception as failure:  # any other failure: this adapter only, started again
            problem = describe(failure)
        if state.clock() - started >= HEALTHY_AFTER:
            retry = 0
        retry += 1
        delay = backoff(retry, rng, first)
        state.retrying(retry, delay, problem)
        log.error(
            "%s stopped: %s; starting it again in %.1f s (retry %d); the other adapters go on",
            name,
            problem,
            delay,
            retry,
        )
        await sleep(delay)
        state.restarting()
