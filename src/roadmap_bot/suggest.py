"""'Did you mean' suggestions for misspelt words, names, levels and paths."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rapidfuzz import fuzz, process, utils


def close_matches(
    word: str, choices: Iterable[str], *, limit: int = 3, cutoff: float = 70.0
) -> list[str]:
    """The choices closest to ``word``, best first, ignoring case and punctuation."""
    options = list(dict.fromkeys(choices))
    if not word.strip() or not options:
        return []
    found = process.extract(
        word,
        options,
        scorer=_score,
        processor=utils.default_process,
        limit=limit,
        score_cutoff=cutoff,
    )
    return [choice for choice, _score_value, _index in found]


def _score(a: str, b: str, **kwargs: Any) -> float:
    # WRatio handles typos ('kuberntes'), prefixes ('kube') and word order; a plain
    # ratio keeps very short words honest so 'go' does not match everything.
    cutoff: float | None = kwargs.get("score_cutoff")
    if min(len(a), len(b)) <= 3:
        return float(fuzz.ratio(a, b, score_cutoff=cutoff))
    return float(fuzz.WRatio(a, b, score_cutoff=cutoff))
