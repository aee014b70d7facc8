"""'Did you mean' suggestions for misspelt words, names, levels and paths."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

SHORT = 3  # words this short are compared whole: 'go' must not match 'google'


class Vocabulary:
    """Choices prepared once (folded, deduplicated) for repeated 'did you mean' lookups.

    rapidfuzz is imported and the choices folded at the first lookup: most commands
    never need a 'did you mean', and a one-shot ``roadmap-bot ask`` should not pay for it.
    """

    def __init__(self, choices: Iterable[str]) -> None:
        self.choices = list(dict.fromkeys(choices))

    @cached_property
    def folded(self) -> list[str]:
        from rapidfuzz import utils

        return [utils.default_process(c) for c in self.choices]

    def warm(self) -> None:
        """Fold the choices now (a server does it before its first request)."""
        self.folded  # noqa: B018

    def closest(
        self, word: str, *, limit: int = 3, cutoff: float = 70.0, typos_only: bool = False
    ) -> list[str]:
        """The choices closest to ``word``, best first, ignoring case and punctuation.

        ``typos_only`` compares whole strings only (edit distance): several times faster,
        for large vocabularies where partial and reordered matches are not wanted.
        """
        from rapidfuzz import fuzz, process, utils

        query = utils.default_process(word)
        if not query or not self.choices:
            return []
        # WRatio handles typos ('kuberntes'), prefixes and word order; its partial
        # matching is too generous for very short strings, so those are re-scored whole.
        found = process.extract(
            query,
            self.folded,
            scorer=fuzz.ratio if typos_only else fuzz.WRatio,
            processor=None,
            limit=limit * 4,
            score_cutoff=cutoff,
        )
        kept: list[tuple[float, int]] = []
        for folded, score, index in found:
            if min(len(query), len(folded)) <= SHORT:
                score = fuzz.ratio(query, folded)
                if score < cutoff:
                    continue
            kept.append((-score, index))
        kept.sort()
        return [self.choices[index] for _, index in kept[:limit]]


def close_matches(
    word: str, choices: Iterable[str], *, limit: int = 3, cutoff: float = 70.0
) -> list[str]:
    """One-off 'did you mean' over a small list of choices."""
    return Vocabulary(choices).closest(word, limit=limit, cutoff=cutoff)
