"""An injected sleep for retry and backoff code: records each wait instead of waiting."""

from __future__ import annotations


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
