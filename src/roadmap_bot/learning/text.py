"""Small text helpers shared by lookups, search and parsing."""

from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_WORD = re.compile(r"[0-9a-z]+(?:[+#][0-9a-z+#]*|[+#]+)?")

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "how",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "what",
        "which",
    ]
)


def normalize_name(text: str) -> str:
    """Fold a name for lookup: 'Next.js', 'next js' and 'NEXTJS' are all 'nextjs'."""
    return _NON_ALNUM.sub("", text.casefold())


def words(text: str) -> list[str]:
    """Lower-case words of a text; keeps 'c++' and 'c#' whole."""
    return _WORD.findall(text.casefold())


def search_terms(text: str) -> list[str]:
    """Words worth searching for: no stop words, no duplicates, order kept."""
    seen: dict[str, None] = {}
    for word in words(text):
        if word not in STOP_WORDS:
            seen.setdefault(word, None)
    return list(seen)
