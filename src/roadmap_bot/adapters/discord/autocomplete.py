"""Autocomplete for project and path options: fast filtering over a precomputed catalog.

Discord calls it on every keystroke and shows at most 25 choices, so everything that
does not depend on the typed text is computed once per catalog. A project matches by
name, slug, concept, level, language or category; every typed word must match.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from roadmap_bot.catalog import Catalog, LearningPath, Project
from roadmap_bot.suggest import close_matches
from roadmap_bot.text import normalize_name, words

MAX_CHOICES = 25
CHOICE_MAX = 100  # Discord's limit for a choice's name and value

# How much a typed word counts where it is found (prefix of a word in that field).
NAME_WEIGHT = 10
CONCEPT_WEIGHT = 4
LEVEL_WEIGHT = 3
OTHER_WEIGHT = 2
WHOLE_NAME_BONUS = 100  # the text typed so far starts the name
INSIDE_NAME_BONUS = 40  # ... or appears inside it
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
        return self._complete(self._projects, current, prefer, fuzzy=True)

    def marked_projects(self, current: str, marked: Collection[str]) -> list[Choice]:
        """For 'undo': only projects the asker has marked, unless none of those match."""
        entries = [e for e in self._projects if e.value in marked]
        found = self._complete(entries, current, (), fuzzy=False) if entries else []
        return found or self.projects(current)

    def paths(self, current: str) -> list[Choice]:
        return self._complete(self._paths, current, (), fuzzy=False)

    def _complete(
        self, entries: list[_Entry], current: str, prefer: Collection[str], fuzzy: bool
    ) -> list[Choice]:
        terms = words(current)
        if not terms:
            ranked = sorted(entries, key=lambda e: (e.value not in prefer, e.order))
            return [Choice(e.label, e.value) for e in ranked[:MAX_CHOICES]]
        typed = normalize_name(current)
        scored: list[tuple[float, int, Choice]] = []
        for entry in entries:
            score, concept = _score(entry, terms, typed)
            if score <= 0:
                continue
            if entry.value in prefer:
                score += 1
            label = entry.label
            if concept:  # say why it matched when the name does not
                label = _label(entry.short, f"teaches {concept}")
            scored.append((-score, entry.order, Choice(label, entry.value)))
        scored.sort(key=lambda s: (s[0], s[1]))
        found = [c for _, _, c in scored[:MAX_CHOICES]]
        if not found and fuzzy:
            found = self._fuzzy(current)
        return found

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


def _score(entry: _Entry, terms: list[str], typed: str) -> tuple[float, str]:
    """A score (0: no match) and the concept that matched, if that is why."""
    score = 0.0
    concept = ""
    name_hit = False
    for term in terms:
        best = 0.0
        if any(w.startswith(term) for w in entry.name_words):
            best = NAME_WEIGHT
            name_hit = True
        else:
            for word, label in entry.concepts:
                if word.startswith(term):
                    best, concept = CONCEPT_WEIGHT, concept or label
                    break
            else:
                if any(w.startswith(term) for w in entry.level_words):
                    best = LEVEL_WEIGHT
                elif any(w.startswith(term) for w in entry.other_words):
                    best = OTHER_WEIGHT
        if best == 0.0:
            if len(term) < MIN_INSIDE or not any(term in key for key in entry.keys):
                return 0.0, ""
            best = NAME_WEIGHT / 2  # inside a name: 'sql' in 'postgresql'
            name_hit = True
        score += best
    if any(key.startswith(typed) for key in entry.keys):
        score += WHOLE_NAME_BONUS
    elif len(typed) >= MIN_INSIDE and any(typed in key for key in entry.keys):
        score += INSIDE_NAME_BONUS
    return score, "" if name_hit else concept
