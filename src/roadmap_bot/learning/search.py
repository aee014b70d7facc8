"""Ranked search over the catalog: names, concepts, category, language and summaries.

An inverted index built once per catalog. Every query word must match (a whole word or
the start of one); a hit in a name counts more than one in a concept, which counts
more than one in a summary. Searching a concept ("raft", "event loop") finds exactly
the projects that teach it.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from roadmap_bot.learning.catalog import Project
from roadmap_bot.learning.suggest import Vocabulary
from roadmap_bot.learning.text import normalize_name, search_terms, words


class Field(IntEnum):
    """Where a word was found; the value is its weight."""

    SUMMARY = 1
    LANGUAGE = 3
    CATEGORY = 3
    CONCEPT = 5
    NAME = 8


PREFIX_FACTOR = 0.6  # 'kube' finds 'kubernetes', but less strongly than a whole word
MIN_PREFIX = 3
CACHE_SIZE = 2048  # recent queries: teams search the same concepts again and again
CONCEPT_BONUS = 20.0  # the whole query names a concept this project teaches
NAME_BONUS = 50.0  # the whole query is the project's name


@dataclass(frozen=True)
class Hit:
    project: Project
    score: float
    fields: frozenset[str]  # "name", "concept", ... where the query words were found
    concept: str | None = None  # the concept tag the query named, if any


@dataclass(frozen=True)
class Results:
    hits: tuple[Hit, ...]
    concept: str | None  # set when the query named a concept
    suggestions: tuple[str, ...]  # when nothing matched: words the user may have meant
    total: int = 0  # how many matched, when ``hits`` was cut to a limit


class SearchIndex:
    """Build once per catalog; query many times."""

    def __init__(self, projects: Sequence[Project], concepts: dict[str, str]) -> None:
        self.projects = list(projects)
        self.concepts = concepts
        # term -> {doc: (weight, field name)}
        self._postings: dict[str, dict[int, tuple[float, str]]] = {}
        self._names: dict[str, list[int]] = {}
        self._concept_keys: dict[str, str] = {}
        for tag, label in concepts.items():
            self._concept_keys[normalize_name(tag)] = tag
            self._concept_keys[normalize_name(label)] = tag
        self._by_concept: dict[str, list[int]] = {}
        for doc, project in enumerate(self.projects):
            self._add(doc, project)
        self._terms = sorted(self._postings)
        self._cache: dict[tuple[str, int | None], Results] = {}  # the index never changes
        self._vocabulary = Vocabulary([p.slug for p in self.projects] + list(concepts))
        self._long_terms = Vocabulary(t for t in self._terms if len(t) >= MIN_PREFIX)

    def _add(self, doc: int, project: Project) -> None:
        def put(text: str, field: Field) -> None:
            for word in words(text):
                slot = self._postings.setdefault(word, {})
                old = slot.get(doc)
                if old is None or old[0] < field.value:
                    slot[doc] = (float(field.value), field.name.lower())

        put(project.summary, Field.SUMMARY)
        put(project.language, Field.LANGUAGE)
        put(project.category, Field.CATEGORY)
        for tag in project.concepts:
            put(tag.replace("-", " "), Field.CONCEPT)
            put(self.concepts.get(tag, ""), Field.CONCEPT)
            self._by_concept.setdefault(tag, []).append(doc)
        put(project.name, Field.NAME)
        put(project.slug.replace("-", " "), Field.NAME)
        put(project.slug, Field.NAME)
        for key in {normalize_name(project.name), normalize_name(project.slug)}:
            self._names.setdefault(key, []).append(doc)

    def search(self, query: str, limit: int | None = None) -> Results:
        """Projects matching every word of ``query``, best first."""
        key = (query.casefold().strip(), limit)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            cached = self._cache[key] = self._search(query, limit)
        return cached

    def _search(self, query: str, limit: int | None) -> Results:
        terms = search_terms(query)
        if not terms:
            return Results((), None, (), 0)
        concept = self._concept_keys.get(normalize_name(query))
        if concept is None and len(terms) == 1:
            concept = self._concept_keys.get(normalize_name(terms[0]))

        matched: list[dict[int, tuple[float, str]]] = []
        scores: dict[int, float] = {}
        for position, term in enumerate(terms):
            matches = self._match(term)
            matched.append(matches)
            if position == 0:
                scores = {doc: hit[0] for doc, hit in matches.items()}
            else:
                scores = {doc: s + matches[doc][0] for doc, s in scores.items() if doc in matches}
            if not scores:
                break

        if concept is not None:
            for doc in self._by_concept.get(concept, []):
                scores[doc] = scores.get(doc, 0.0) + CONCEPT_BONUS
        named = self._names.get(normalize_name(query), [])
        for doc in named:
            scores[doc] = scores.get(doc, 0.0) + NAME_BONUS

        def rank(item: tuple[int, float]) -> tuple[float, int]:
            return (-item[1], item[0])

        if limit is not None and limit < len(scores):
            ranked = heapq.nsmallest(limit, scores.items(), key=rank)
        else:
            ranked = sorted(scores.items(), key=rank)
        hits = []
        for doc, score in ranked:
            # Only the hits we return pay for explaining where they matched.
            fields = {m[doc][1] for m in matched if doc in m}
            if concept is not None and concept in self.projects[doc].concepts:
                fields.add("concept")
            if doc in named:
                fields.add("name")
            hits.append(Hit(self.projects[doc], score, frozenset(fields), concept))
        total = len(scores)
        suggestions = [] if hits else self._suggest(terms)
        return Results(tuple(hits), concept, tuple(suggestions), total)

    def _match(self, term: str) -> dict[int, tuple[float, str]]:
        """Documents containing ``term`` as a word, or as the start of a word."""
        exact = self._postings.get(term, {})
        if len(term) < MIN_PREFIX:
            return exact
        terms = self._terms
        position = bisect_left(terms, term)
        longer = []
        while position < len(terms) and terms[position].startswith(term):
            if terms[position] != term:
                longer.append(terms[position])
            position += 1
        if not longer:
            return exact  # the common case: no copy
        found = dict(exact)
        for other in longer:
            for doc, (weight, field) in self._postings[other].items():
                scaled = weight * PREFIX_FACTOR
                if doc not in found or found[doc][0] < scaled:
                    found[doc] = (scaled, field)
        return found

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
