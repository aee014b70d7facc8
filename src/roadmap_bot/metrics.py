"""What the bot counts for ``/metrics``: the core, the deliverer and the adapters report here.

This module imports no metrics library: until :func:`install` hands it a recorder (the
Prometheus one in ``web/metrics.py``, when ``serve`` starts), every call is a no-op, so
one-shot commands and the core's tests pay nothing. The recorder is process-wide on
purpose: Prometheus scrapes a process, and every part of it must count into the same
figures without each constructor passing a recorder along.
"""

from __future__ import annotations

import re
from typing import Protocol


class Recorder(Protocol):
    """Where the counts go. Labels are small fixed sets (platforms, kinds, outcomes)."""

    def command(self, platform: str, kind: str, outcome: str, seconds: float) -> None:
        """One command answered: ``outcome`` is ok, refused (bad input) or error."""

    def digest(self, platform: str, outcome: str) -> None:
        """One weekly post finished: delivered or failed."""

    def digests_in_progress(self, platform: str, change: int) -> None:
        """Posts being sent right now (+1 when one starts, -1 when it ends)."""

    def rate_limited(self, platform: str) -> None:
        """The platform answered 429 (or Slack's ``ratelimited``)."""

    def lease_takeover(self, platform: str) -> None:
        """A worker took over a delivery whose lease another worker let expire."""


class _Nothing:
    def command(self, platform: str, kind: str, outcome: str, seconds: float) -> None:
        pass

    def digest(self, platform: str, outcome: str) -> None:
        pass

    def digests_in_progress(self, platform: str, change: int) -> None:
        pass

    def rate_limited(self, platform: str) -> None:
        pass

    def lease_takeover(self, platform: str) -> None:
        pass


NOTHING: Recorder = _Nothing()
_recorder: Recorder = NOTHING


def install(recorder: Recorder) -> Recorder:
    """Send every count to ``recorder`` from now on; returns the one it replaces."""
    global _recorder
    previous, _recorder = _recorder, recorder
    return previous


def recorder() -> Recorder:
    """The recorder counts go to now (a no-op one until something installs a real one)."""
    return _recorder


def command(platform: str, kind: str, outcome: str, seconds: float) -> None:
    _recorder.command(platform, kind, outcome, seconds)


def digest(platform: str, outcome: str) -> None:
    _recorder.digest(platform, outcome)


def digests_in_progress(platform: str, change: int) -> None:
    _recorder.digests_in_progress(platform, change)


def rate_limited(platform: str) -> None:
    _recorder.rate_limited(platform)


def lease_takeover(platform: str) -> None:
    """Call when a delivery's expired lease is taken over (wt-lease's deliverer)."""
    _recorder.lease_takeover(platform)


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def command_kind(command: object) -> str:
    """A command's label: its type in snake case (``ShowProject`` -> ``show_project``)."""
    return _CAMEL.sub("_", type(command).__name__).lower()
