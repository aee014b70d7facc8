"""Autocomplete for project and path options: fast filtering over a precomputed catalog.

Discord calls it on every keystroke and shows at most 25 choices, so everything that
does not depend on the typed text is computed once per catalog. A project matches by
name, slug, concept, level, language or category; every typed word must match.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import available_timezones

from roadmap_bot.learning.catalog import Catalog, LearningPath, Level, Project
from roadmap_bot.learning.suggest import close_matches
from roadmap_bot.learning.text import normalize_name, words

MAX_CHOICES = 25
CHOICE_MAX = 100  # Discord's limit for a choice's name and value

# How much a typed word counts where it is found (prefix of a word in that field).
NAME_WEIGHT = 10
CONCEPT_WEIGHT = 4
LEVEL_WEIGHT = 3
OTHER_WEIGHT = 2
WHOLE_NAME_BONUS = 100  # the text typed so far starts the name
INSIDE_NAME_BONUS = 40  # ... or appears inside it
INSIDE_WEIGHT = 5  # a typed word inside a name rather than starting one of its words
MIN_INSIDE = 3  # shorter text inside a name is noise ('go' in 'hugo')


@dataclass(frozen=True)
class Choice:
    """One autocomplete choice: ``name`` is shown, ``value`` is sent back."""

    name: str
    value: str


@dataclass(frozen=True)
class _Entry:
    order: int
    value: str
    label: str
    short: str  # name and level, for a label that says which concept matched
    keys: tuple[str, ...]  # normalized name and slug
    name_words: tuple[str, ...]
    concepts: tuple[tuple[str, str], ...]  # (word, concept label) pairs
    level_words: tuple[str, ...]
    other_words: tuple[str, ...]


def _label(*parts: str) -> str:
    text = " · ".join(p for p in parts if p)
    return text if len(text) <= CHOICE_MAX else text[: CHOICE_MAX - 1].rstrip() + "…"


class Completer:
    """Choices for the /roadmap options that name a project or a path."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._projects = [self._project_entry(i, p) for i, p in enumerate(catalog.projects)]
        self._paths = [self._path_entry(i, p) for i, p in enumerate(catalog.paths)]
        self._project_index = _Index(self._projects)
        self._path_index = _Index(self._paths)
        self._names = {
            **{normalize_name(p.name): p.slug for p in catalog.projects},
            **{normalize_name(p.slug): p.slug for p in catalog.projects},
        }

    def _project_entry(self, order: int, project: Project) -> _Entry:
        concepts = tuple(
            (word, self.catalog.concept_label(tag))
            for tag in project.concepts
            for word in dict.fromkeys(words(tag) + words(self.catalog.concept_label(tag)))
        )
        return _Entry(
            order=order,
            value=project.slug,
            label=_label(project.name, project.level_label, project.summary),
            short=_label(project.name, project.level_label),
            keys=(normalize_name(project.name), normalize_name(project.slug)),
            name_words=tuple(dict.fromkeys(words(project.name) + words(project.slug))),
            concepts=concepts,
            level_words=(project.level.value,) if project.level else (),
            other_words=tuple(words(project.language) + words(project.category)),
        )

    def _path_entry(self, order: int, path: LearningPath) -> _Entry:
        steps = [self.catalog.project(s) for s in path.steps]
        flow = " → ".join(p.name for p in steps)
        step_words = [w for p in steps for w in words(p.name) + words(p.slug)]
        return _Entry(
            order=order,
            value=path.slug,
            label=_label(path.title, f"{len(steps)} steps", flow),
            short=path.title,
            keys=(normalize_name(path.title), normalize_name(path.slug)),
            name_words=tuple(dict.fromkeys(words(path.title) + words(path.slug))),
            concepts=(),
            level_words=(),
            other_words=tuple(dict.fromkeys(step_words + words(path.blurb))),
        )

    # -- queries -------------------------------------------------------------------------

    def projects(self, current: str, prefer: Collection[str] = ()) -> list[Choice]:
        """Projects matching what is typed so far, best first; ``prefer`` slugs lead."""
        found = self._project_index.complete(current, prefer)
        return found or self._fuzzy(current)

    def marked_projects(self, current: str, marked: Collection[str]) -> list[Choice]:
        """For 'undo': only projects the asker has marked, unless none of those match."""
        found = self._project_index.complete(current, (), only=marked) if marked else []
        return found or self.projects(current)

    def paths(self, current: str) -> list[Choice]:
        return self._path_index.complete(current, ())

    def targets(self, current: str) -> list[Choice]:
        """What a channel can subscribe to: the levels whose name starts so, then paths."""
        typed = normalize_name(current)
        levels = [
            Choice(_label(lv.value, "level", f"{len(self.catalog.level(lv))} projects"), lv.value)
            for lv in Level
            if lv.value.startswith(typed)
        ]
        return (levels + self.paths(current))[:MAX_CHOICES]

    def _fuzzy(self, current: str) -> list[Choice]:
        # Typos ('kuberntes'): only when nothing matched by words, as it is the slow path.
        by_slug = {e.value: e for e in self._projects}
        out: list[Choice] = []
        for guess in close_matches(current, self.catalog.project_keys, limit=8, cutoff=60):
            slug = self._names.get(normalize_name(guess))
            entry = by_slug.get(slug or "")
            if entry is not None and all(c.value != entry.value for c in out):
                out.append(Choice(entry.label, entry.value))
        return out


class _Index:
    """Sorted words with their entries: a typed word finds every word it starts by bisection."""

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        best: dict[str, dict[int, tuple[int, str]]] = {}

        def put(word: str, pos: int, weight: int, concept: str = "") -> None:
            slot = best.setdefault(word, {})
            if pos not in slot or slot[pos][0] < weight:
                slot[pos] = (weight, concept)

        for pos, entry in enumerate(entries):
            for word in entry.name_words:
                put(word, pos, NAME_WEIGHT)
            for word, label in entry.concepts:
                put(word, pos, CONCEPT_WEIGHT, label)
            for word in entry.level_words:
                put(word, pos, LEVEL_WEIGHT)
            for word in entry.other_words:
                put(word, pos, OTHER_WEIGHT)
        self.vocabulary = sorted(best)
        self.postings = {w: list(best[w].items()) for w in self.vocabulary}
        self.by_order = sorted(range(len(entries)), key=lambda pos: entries[pos].order)

    def _term(self, term: str) -> dict[int, tuple[int, str]]:
        """Entries with a word starting with ``term``: (weight of the best field, concept)."""
        hits: dict[int, tuple[int, str]] = {}
        index = bisect_left(self.vocabulary, term)
        while index < len(self.vocabulary) and self.vocabulary[index].startswith(term):
            for pos, (weight, concept) in self.postings[self.vocabulary[index]]:
                old = hits.get(pos)
                if old is None or old[0] < weight:
                    hits[pos] = (weight, concept)
            index += 1
        if len(term) >= MIN_INSIDE:  # inside a name: 'sql' in 'postgresql'
            for pos, entry in enumerate(self.entries):
                if pos not in hits and any(term in key for key in entry.keys):
                    hits[pos] = (INSIDE_WEIGHT, "")
        return hits

    def complete(
        self, current: str, prefer: Collection[str], only: Collection[str] | None = None
    ) -> list[Choice]:
        entries = self.entries
        terms = words(current)
        if not terms:
            listed = [
                entries[pos] for pos in self.by_order if only is None or entries[pos].value in only
            ]
            listed.sort(key=lambda e: e.value not in prefer)  # stable: catalog order kept
            return [Choice(e.label, e.value) for e in listed[:MAX_CHOICES]]
        scores: dict[int, float] = {}
        concepts: dict[int, str] = {}
        named: set[int] = set()
        for number, term in enumerate(terms):
            hits = self._term(term)
            if number == 0:
                scores = dict.fromkeys(hits, 0.0)
            else:
                scores = {pos: s for pos, s in scores.items() if pos in hits}
            for pos in scores:
                weight, concept = hits[pos]
                scores[pos] += weight
                if concept:
                    concepts.setdefault(pos, concept)
                elif weight >= INSIDE_WEIGHT:  # a name word, or inside the name
                    named.add(pos)
            if not scores:
                return []
        typed = normalize_name(current)
        ranked: list[tuple[float, int, Choice]] = []
        for pos, score in scores.items():
            entry = entries[pos]
            if only is not None and entry.value not in only:
                continue
            if any(key.startswith(typed) for key in entry.keys):
                score += WHOLE_NAME_BONUS
            elif len(typed) >= MIN_INSIDE and any(typed in key for key in entry.keys):
                score += INSIDE_NAME_BONUS
            if entry.value in prefer:
                score += 1
            label = entry.label
            if pos in concepts and pos not in named:  # say why it matched
                label = _label(entry.short, f"teaches {concepts[pos]}")
            ranked.append((-score, entry.order, Choice(label, entry.value)))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [choice for _, _, choice in ranked[:MAX_CHOICES]]


# -- time zones --------------------------------------------------------------------------------

# Shown before anything is typed: the zones most study groups are likely in.
POPULAR_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)
_NOT_OFFERED = ("posix/", "right/", "Etc/", "SystemV/")


def _fold(text: str) -> str:
    return text.casefold().replace("_", " ").replace("-", " ").strip()


@lru_cache(maxsize=1)
def _zone_table() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(zone, folded zone, folded words) for the zones worth offering, sorted by name."""
    zones = [
        z
        for z in available_timezones()
        if z == "UTC" or ("/" in z and not z.startswith(_NOT_OFFERED))
    ]
    table = []
    for zone in sorted(zones):
        folded = _fold(zone)
        table.append((zone, folded, tuple(w for part in folded.split("/") for w in part.split())))
    return tuple(table)


def zones(current: str) -> list[Choice]:
    """IANA zones for what is typed: a city or region ('berlin', 'new york', 'europe/')."""
    typed = _fold(current)
    if not typed:
        return [Choice(z, z) for z in POPULAR_ZONES]
    ranked: list[tuple[int, str]] = []
    for zone, folded, parts in _zone_table():
        city = folded.rsplit("/", 1)[-1]
        if folded.startswith(typed):
            rank = 0
        elif city.startswith(typed):
            rank = 1
        elif any(w.startswith(typed) for w in parts) or typed in folded:
            rank = 2
        else:
            continue
        ranked.append((rank, zone))
    ranked.sort()
    return [Choice(zone, zone) for _, zone in ranked[:MAX_CHOICES]]
