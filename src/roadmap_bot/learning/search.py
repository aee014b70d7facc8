"""Ranked search over the catalog: names, concepts, category, language and summaries.

An inverted index built once per catalog. Words are compared by their stem (Snowball's
English stemmer: 'plugins' and 'plugin' are one word) after the catalog's synonyms
('wasm' is 'webassembly'). Every query word must match, as a whole word or the start of
one. Hits rank by the weakest field the query needed: the exact name, then the name,
a concept, the category or language, the summary; ties keep the roadmap's order.
Searching a concept ("raft", "event loop", "pub/sub") finds exactly the projects that
teach it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntFlag
from functools import lru_cache
from typing import Any, NamedTuple

from roadmap_bot.learning.catalog import Project
from roadmap_bot.learning.suggest import Vocabulary
from roadmap_bot.learning.text import normalize_name, search_terms, words


class Field(IntFlag):
    """Where a word was found (bits of a mask; the index keeps plain ints for speed)."""

    NAME = 1
    CONCEPT = 2
    CATEGORY = 4
    LANGUAGE = 8
    SUMMARY = 16


# The rank of a hit: lower is better. One field decides it: the weakest that a query
# word needed (a hit for 'rust terminal' through the language and a summary is a
# summary hit).
EXACT_NAME = 0
_TIER = {
    Field.NAME: 1,
    Field.CONCEPT: 2,
    Field.CATEGORY: 3,
    Field.LANGUAGE: 3,
    Field.SUMMARY: 4,
}
FIELD_ORDER = (Field.NAME, Field.CONCEPT, Field.CATEGORY, Field.LANGUAGE, Field.SUMMARY)
_ALL = sum(FIELD_ORDER)
# Per mask of fields, precomputed: the rank of a word found there (its strongest field)
# and the labels a hit shows, strongest first.
_RANK_OF = [min((_TIER[f] for f in FIELD_ORDER if f & m), default=9) for m in range(_ALL + 1)]
_LABELS_OF = [tuple((f.name or "").lower() for f in FIELD_ORDER if f & m) for m in range(_ALL + 1)]
_NAME, _CONCEPT = int(Field.NAME), int(Field.CONCEPT)

MIN_PREFIX = 3  # 'kube' finds 'kubernetes'; 'go' must not find 'google'
CACHE_SIZE = 2048  # recent queries: teams search the same concepts again and again


class Hit(NamedTuple):  # a tuple: a search may return hundreds
    project: Project
    rank: int  # 0 exact name, 1 name, 2 concept, 3 category or language, 4 summary
    fields: tuple[str, ...]  # where the query was found, strongest first: "name", "concept"
    concept: str | None = None  # the concept tag the query named, if any


@dataclass(frozen=True)
class Results:
    hits: tuple[Hit, ...]  # every match, best first: callers page, never cut
    concept: str | None  # set when the query named a concept
    suggestions: tuple[str, ...]  # when nothing matched: words the user may have meant

    @property
    def total(self) -> int:
        return len(self.hits)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    # Imported at the first search, not with the module: most commands never search.
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A word's stem; numbers, 'c++' and other words with symbols stay whole."""
    return str(_stemmer().stemWord(word)) if word.isalpha() else word


class SearchIndex:
    """Build once per catalog; query many times."""

    def __init__(
        self,
        projects: Sequence[Project],
        concepts: Mapping[str, str],
        synonyms: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.projects = list(projects)
        self.concepts = dict(concepts)
        # stem -> the stem of its key word: 'wasm' -> 'webassembl'
        self._canonical: dict[str, str] = {}
        self._key_cache: dict[str, tuple[str, ...]] = {}
        for key, others in (synonyms or {}).items():
            for word in (key, *others):
                self._canonical[stem(word)] = stem(key)
        # term -> {doc: the fields it appears in, as a mask of Field bits}
        self._postings: dict[str, dict[int, int]] = {}
        self._names: dict[str, list[int]] = {}
        # a concept by its tag, its label or a synonym, folded: 'eventloop', 'pubsub'
        self._concept_keys: dict[str, str] = {}
        for tag, label in self.concepts.items():
            self._concept_keys[normalize_name(tag)] = tag
            self._concept_keys[normalize_name(label)] = tag
            self._concept_keys.setdefault(self._fold_phrase(tag.replace("-", " ")), tag)
        self._by_concept: dict[str, list[int]] = {}
        for doc, project in enumerate(self.projects):
            self._add(doc, project)
        self._terms = sorted(self._postings)
        self._cache: dict[str, Results] = {}  # the index never changes
        self._vocabulary = Vocabulary([p.slug for p in self.projects] + list(self.concepts))
        texts = [f"{p.name} {p.summary} {p.category}" for p in self.projects]
        texts += self.concepts.values()
        self._long_terms = Vocabulary(w for t in texts for w in words(t) if len(w) >= MIN_PREFIX)

    def warm(self) -> None:
        """Prepare the 'did you mean' vocabularies now rather than at the first miss."""
        self._vocabulary.warm()
        self._long_terms.warm()

    def _keys(self, word: str) -> tuple[str, ...]:
        """The index terms of one word: its stem, and its key word's stem if a synonym."""
        keys = self._key_cache.get(word)
        if keys is None:
            stemmed = stem(word)
            canonical = self._canonical.get(stemmed, stemmed)
            keys = (stemmed,) if canonical == stemmed else (stemmed, canonical)
            if len(self._key_cache) < CACHE_SIZE * 8:
                self._key_cache[word] = keys
        return keys

    def _fold_phrase(self, text: str) -> str:
        """A phrase folded through synonyms and stems: 'wasm plugins' ~ 'webassembly plugin'."""
        return " ".join(self._keys(w)[-1] for w in search_terms(text))

    def _add(self, doc: int, project: Project) -> None:
        def put(text: str, field: Field) -> None:
            where = int(field)
            for word in words(text):
                for term in self._keys(word):
                    slot = self._postings.setdefault(term, {})
                    slot[doc] = slot.get(doc, 0) | where

        put(project.summary, Field.SUMMARY)
        put(project.language, Field.LANGUAGE)
        put(project.category, Field.CATEGORY)
        for tag in project.concepts:
            put(tag.replace("-", " "), Field.CONCEPT)
            put(self.concepts.get(tag, ""), Field.CONCEPT)
            self._by_concept.setdefault(tag, []).append(doc)
        put(project.name, Field.NAME)
        put(project.slug.replace("-", " "), Field.NAME)
        for key in {normalize_name(project.name), normalize_name(project.slug)}:
            self._names.setdefault(key, []).append(doc)

    def search(self, query: str, limit: int | None = None) -> Results:
        """Projects matching every word of ``query``, best first; at most ``limit``."""
        key = " ".join(query.casefold().split())
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            cached = self._cache[key] = self._search(query)
        if limit is not None and limit < cached.total:
            return Results(cached.hits[:limit], cached.concept, cached.suggestions)
        return cached

    def concept_of(self, query: str) -> str | None:
        """The concept tag a whole query names: 'event loop', 'pub/sub', 'lsm-tree', 'wasm'."""
        found = self._concept_keys.get(normalize_name(query))
        return found or self._concept_keys.get(self._fold_phrase(query))

    def _search(self, query: str) -> Results:
        terms = search_terms(query)
        if not terms:
            return Results((), None, ())
        concept = self.concept_of(query)

        # doc -> (its weakest word's rank, the fields the query's words were found in)
        found: dict[int, tuple[int, int]] = {}
        rank_of = _RANK_OF
        for position, term in enumerate(terms):
            matches = self._match(term)
            if position == 0:
                found = {doc: (rank_of[where], where) for doc, where in matches.items()}
            else:
                found = {
                    doc: (max(rank, rank_of[matches[doc]]), where | matches[doc])
                    for doc, (rank, where) in found.items()
                    if doc in matches
                }
            if not found:
                break
        if concept is not None:
            tier = _TIER[Field.CONCEPT]
            for doc in self._by_concept.get(concept, []):
                rank, where = found.get(doc, (tier, 0))
                found[doc] = (min(rank, tier), where | _CONCEPT)
        for doc in self._names.get(normalize_name(query), []):
            found[doc] = (EXACT_NAME, found.get(doc, (0, 0))[1] | _NAME)

        # Ties keep the roadmap's order: ``doc`` is the project's place in the catalog.
        size = len(self.projects)
        order = sorted(rank * size + doc for doc, (rank, _) in found.items())
        projects = self.projects
        hits = []
        for key in order:
            rank, doc = divmod(key, size)
            project = projects[doc]
            taught = concept if concept is not None and concept in project.concepts else None
            hits.append(Hit(project, rank, _LABELS_OF[found[doc][1]], taught))
        suggestions = () if hits else tuple(self._suggest(terms))
        return Results(tuple(hits), concept, suggestions)

    def _match(self, word: str) -> dict[int, int]:
        """Documents containing ``word`` (or a synonym) as a word, or as the start of one."""
        terms = [t for key in self._keys(word) for t in self._expand(key)]
        if len(terms) == 1:
            return self._postings[terms[0]]  # the common case: no copy
        found: dict[int, int] = {}
        for term in dict.fromkeys(terms):
            for doc, where in self._postings[term].items():
                found[doc] = found.get(doc, 0) | where
        return found

    def _expand(self, term: str) -> list[str]:
        """``term`` and the index terms it starts (when it is long enough)."""
        if len(term) < MIN_PREFIX:
            return [term] if term in self._postings else []
        terms = self._terms
        position = bisect_left(terms, term)
        out = []
        while position < len(terms) and terms[position].startswith(term):
            out.append(terms[position])
            position += 1
        return out

    def _suggest(self, terms: list[str]) -> list[str]:
        """For a query that found nothing: the closest names, concepts and words."""
        query = " ".join(terms)
        found = self._vocabulary.closest(query, limit=3, cutoff=75, typos_only=True)
        if not found:
            fixed = [
                self._long_terms.closest(t, limit=1, cutoff=80, typos_only=True) for t in terms
            ]
            if all(fixed):
                found = [" ".join(f[0] for f in fixed)]
        return found
