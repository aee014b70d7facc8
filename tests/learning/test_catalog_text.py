"""Catalog text is ours: no run of six words taken from the learning roadmap.

The roadmap is kept here only as a fingerprint (a hash of each six-word run), so the
check needs no copy of its prose.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from roadmap_bot.learning.catalog import Catalog

RUN = 6
FINGERPRINTS = Path(__file__).with_name("roadmap_6grams.txt")


def _runs(text: str) -> set[str]:
    words = re.findall(r"[0-9a-z]+", text.casefold())
    return {
        hashlib.sha256(" ".join(words[i : i + RUN]).encode()).hexdigest()[:12]
        for i in range(len(words) - RUN + 1)
    }


def _roadmap() -> frozenset[str]:
    lines = FINGERPRINTS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _our_texts(catalog: Catalog) -> list[tuple[str, str]]:
    texts = [(f"summary of {p.slug}", p.summary) for p in catalog.projects]
    for path in catalog.paths:
        texts.append((f"blurb of {path.slug}", path.blurb))
        texts += [(f"{path.slug} step {i}", line) for i, line in enumerate(path.lines, start=1)]
    return texts


def test_the_fingerprint_catches_a_copied_run() -> None:
    # A phrase from the roadmap's own paths section must be caught (else the check is empty).
    assert _runs("applies Prometheus-like label indexing to log aggregation") & _roadmap()
    assert not _runs("our own words about label indexing for logs, written here") & _roadmap()


def test_no_catalog_text_shares_six_words_with_the_roadmap(catalog: Catalog) -> None:
    roadmap = _roadmap()
    copied = [where for where, text in _our_texts(catalog) if _runs(text) & roadmap]
    assert copied == []


def test_every_path_step_has_a_line(catalog: Catalog) -> None:
    for path in catalog.paths:
        assert len(path.lines) == len(path.steps), path.slug
