"""How long to wait before trying again: the one backoff policy of every retry loop (a
busy database at start-up, an adapter restarted, the marks cache listening again, a
digest post without an answer)."""

from __future__ import annotations

import random


def backoff(attempt: int, first: float, cap: float, rng: random.Random | None = None) -> float:
    """The wait after failed try number ``attempt`` (0 for the first failure): ``first``,
    doubled per attempt, never over ``cap``. With ``rng``, a random part of up to half of
    it is taken off, so that replicas which failed together do not retry in step."""
    ceiling = min(cap, first * 2.0 ** max(0, attempt))
    return ceiling if rng is None else ceiling / 2 + rng.uniform(0, ceiling / 2)
