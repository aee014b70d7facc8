"""Ranked search over the catalog: names, concepts, category, language and summaries.

An inverted index built once per catalog. Every query word must match (a whole word or
the start of one); a hit in a name counts more than one in a concept, which counts
more than one in a summary. Searching a concept ("raft", "event loop") finds exactly
the projects that teach it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from roadmap_bot.catalog import Project
from roadmap_bot.suggest import close_matches
from roadmap_bot.text import normalize_name, search_terms, words


class Field(IntEnum):
    """Where a word was found; the value is its weight."""

    SUMMARY = 1
    LANGUAGE = 3
    CATEGORY = 3
    CONCEPT = 5
    NAME = 8


PREFIX_FACTOR = 0.6  # 'kube' finds 'kubernetes', but less strongly than a whole word
MIN_PREFIX = 3
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
    hits: list[Hit]
    concept: str | None  # set when the query named a concept
    suggestions: list[str]  # when nothing matched: words the user may have meant


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
        terms = search_terms(query)
        if not terms:
            return Results([], None, [])
        concept = self._concept_keys.get(normalize_name(query))
        if concept is None and len(terms) == 1:
            concept = self._concept_keys.get(normalize_name(terms[0]))

        scores: dict[int, float] | None = None
        fields: dict[int, set[str]] = {}
        for term in terms:
            matches = self._match(term)
            if scores is None:
                scores = dict.fromkeys(matches, 0.0)
            else:
                scores = {doc: s for doc, s in scores.items() if doc in matches}
            for doc in scores:
                weight, field = matches[doc]
                scores[doc] += weight
                fields.setdefault(doc, set()).add(field)
            if not scores:
                break
        scores = scores or {}

        if concept is not None:
            for doc in self._by_concept.get(concept, []):
                scores[doc] = scores.get(doc, 0.0) + CONCEPT_BONUS
                fields.setdefault(doc, set()).add("concept")
        for doc in self._names.get(normalize_name(query), []):
            scores[doc] = scores.get(doc, 0.0) + NAME_BONUS
            fields.setdefault(doc, set()).add("name")

        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        if limit is not None:
            ranked = ranked[:limit]
        hits = [
            Hit(self.projects[doc], score, frozenset(fields.get(doc, ())), concept)
            for doc, score in ranked
        ]
        suggestions = [] if hits else self._suggest(terms)
        return Results(hits, concept, suggestions)

    def _match(self, term: str) -> dict[int, tuple[float, str]]:
        """Documents containing ``term`` as a word, or as the start of a word."""
        found = dict(self._postings.get(term, {}))
        if len(term) < MIN_PREFIX:
            return found
        start = bisect_left(self._terms, term)
        for other in self._terms[start:]:
            if not other.startswith(term):
                break
            if other == term:
                continue
            for doc, (weight, field) in self._postings[other].items():
                scaled = weight * PREFIX_FACTOR
                if doc not in found or found[doc][0] < scaled:
                    found[doc] = (scaled, field)
        return found

    def _suggest(self, terms: list[str]) -> list[str]:
        """For a query that found nothing: the closest names, concepts and words."""
        vocabulary = [p.slug for p in self.projects] + list(self.concepts)
        query = " ".join(terms)
        found = close_matches(query, vocabulary, limit=3, cutoff=75)
        if not found:
            known = [t for t in self._terms if len(t) > 2]
            fixed = [close_matches(t, known, limit=1, cutoff=80) for t in terms]
            if all(fixed):
                found = [" ".join(f[0] for f in fixed)]
        return found
