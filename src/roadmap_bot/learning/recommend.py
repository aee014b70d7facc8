"""Recommendations with reasons: next for a person, next for a group, next path.

The rules, in order:

1. A report marked ``reading`` comes first: the answer says it is being read.
2. A path followed on purpose (``follow PATH``) continues at its first step that is
   neither read nor passed, whatever its level; the most recently followed path first.
   Reading a project that sits on a path never puts anyone on that path.
3. Otherwise the working level: the one just above the highest level of which more than
   half is read (beginner when there is none, advanced at most). Picks come from it while
   it has unread projects, then from the nearest level that has some (lower first), then
   from the projects that appear only in paths.
4. Within a level: projects that build on something read first, then the most concepts
   shared with what was read, then the roadmap's order.

Never something read or passed, always the same answer for the same state, and every
reason checkable: a project it names was read, and the concepts it credits to that
project are carried by both (``Pick.builds_on``, ``Pick.shared_with``, ``Pick.shared``
say what the reason claims).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from roadmap_bot.learning.catalog import Catalog, LearningPath, Level, PathStep, Project
from roadmap_bot.store import Mark, Status

MOSTLY_READ = 0.5  # "more than half of a level": strictly more


class Rule(StrEnum):
    READING = "reading"
    PATH = "path"  # a followed path
    LEVEL = "level"  # the working level
    NEAREST = "nearest-level"  # the working level is exhausted
    ANYTHING = "anything"  # every level is exhausted: projects found only in paths


@dataclass(frozen=True)
class Pick:
    """A recommendation and what its reason claims, for checking."""

    project: Project
    reason: str
    rule: Rule
    step: PathStep | None = None  # the followed path's step
    builds_on: tuple[Project, ...] = ()  # named as read foundations
    shared_with: Project | None = None  # a read project named for shared concepts
    shared: tuple[str, ...] = ()  # concept tags credited to both


@dataclass(frozen=True)
class PathPick:
    path: LearningPath
    reason: str


@dataclass(frozen=True)
class _Reader:
    """One person's or one group's marks, as the rules read them."""

    done: Mapping[str, datetime]
    reading: Mapping[str, datetime]
    closed: frozenset[str]  # read or passed: never recommended
    group: bool

    @property
    def unavailable(self) -> frozenset[str]:
        """Not to be picked by level: closed, or already being read."""
        return self.closed.union(self.reading)

    @property
    def you(self) -> str:
        return "the group" if self.group else "you"

    @property
    def your(self) -> str:
        return "the group's" if self.group else "your"


def _reader(marks: Mapping[str, Mark], group: bool = False) -> _Reader:
    done = {slug: m.at for slug, m in marks.items() if m.status is Status.DONE}
    reading = {slug: m.at for slug, m in marks.items() if m.status is Status.READING}
    closed = frozenset(s for s, m in marks.items() if m.status is not Status.READING)
    return _Reader(done, reading, closed, group)


def next_for_person(
    catalog: Catalog, marks: Mapping[str, Mark], follows: Sequence[str] = ()
) -> Pick | None:
    """The next project for one person, or None when nothing is left.

    ``follows``: the slugs of the paths they follow, the most recently followed first.
    """
    return _pick(catalog, _reader(marks), follows)


def next_for_group(
    catalog: Catalog,
    marks_by_user: Mapping[str, Mapping[str, Mark]],
    follows: Sequence[str] = (),
) -> Pick | None:
    """The next project for a group, by the same rules, on the marks of :func:`group_marks`."""
    return _pick(catalog, _reader(group_marks(marks_by_user), group=True), follows)


def group_marks(marks_by_user: Mapping[str, Mapping[str, Mark]]) -> dict[str, Mark]:
    """One set of marks for a group: a status counts when at least half the members hold it."""
    members = len(marks_by_user)
    if not members:
        return {}
    counts: dict[tuple[str, Status], list[datetime]] = {}
    for marks in marks_by_user.values():
        for slug, mark in marks.items():
            counts.setdefault((slug, mark.status), []).append(mark.at)
    merged: dict[str, Mark] = {}
    # DONE wins over READING wins over SKIPPED when several pass the threshold.
    for status in (Status.SKIPPED, Status.READING, Status.DONE):
        for (slug, held), times in counts.items():
            if held is status and len(times) * 2 >= members:
                merged[slug] = Mark(status, max(times))
    return merged


def working_level(catalog: Catalog, marks: Mapping[str, Mark]) -> Level:
    """The level picks come from: just above the highest one more than half read."""
    done = [slug for slug, mark in marks.items() if mark.status is Status.DONE]
    return _working_level(level_counts(catalog, done))[0]


def level_counts(catalog: Catalog, done: Iterable[str]) -> dict[Level, tuple[int, int]]:
    """(read, total) per level."""
    read = {level: 0 for level in Level}
    for slug in done:
        project = catalog.get(slug)
        if project is not None and project.level is not None:
            read[project.level] += 1
    return {level: (read[level], catalog.level_size(level)) for level in Level}


# The working level first, then by distance from it, the lower level on a tie.
_NEAREST_FIRST = {
    working: sorted(Level, key=lambda lv: (abs(lv.rank - working.rank), lv.rank))
    for working in Level
}


def next_path(
    catalog: Catalog, marks: Mapping[str, Mark], exclude: Iterable[str] = ()
) -> PathPick | None:
    """The learning path to take up next: the one whose steps build most on what was read.

    Ranked by steps that build on read projects, then concepts shared with them, then the
    roadmap's order; paths in ``exclude`` and paths with nothing left are passed over.
    """
    reader = _reader(marks, group=True)
    skip = set(exclude)
    read_concepts = _read_concepts(catalog, reader)
    best: tuple[tuple[int, int, int], LearningPath] | None = None
    for order, path in enumerate(catalog.paths):
        if path.slug in skip or all(step in reader.closed for step in path.steps):
            continue
        open_steps = [catalog.project(s) for s in path.steps if s not in reader.closed]
        builds = sum(1 for p in open_steps if _read_foundations(catalog, reader, p))
        overlap = sum(1 for p in open_steps for tag in p.concepts if tag in read_concepts)
        key = (-builds, -overlap, order)
        if best is None or key < best[0]:
            best = (key, path)
    if best is None:
        return None
    path = best[1]
    first = next(catalog.project(s) for s in path.steps if s not in reader.closed)
    for number, step_slug in enumerate(path.steps, start=1):
        project = catalog.project(step_slug)
        foundations = _read_foundations(catalog, reader, project)
        if step_slug not in reader.closed and foundations:
            reason = (
                f"Its step {number}, {project.name}, builds on {_names(foundations)}, "
                f"which {reader.you} read."
            )
            if first is not project:
                reason += f" It starts with {first.name}."
            return PathPick(path, reason)
    return PathPick(path, f"A fresh direction that starts with {first.name}.")


# -- the rules -------------------------------------------------------------------------------


def _pick(catalog: Catalog, reader: _Reader, follows: Sequence[str]) -> Pick | None:
    return (
        _reading(catalog, reader)
        or _followed_path(catalog, reader, follows)
        or _by_level(catalog, reader)
    )


def _reading(catalog: Catalog, reader: _Reader) -> Pick | None:
    marked = [(at, slug) for slug, at in reader.reading.items() if catalog.get(slug) is not None]
    if not marked:
        return None
    at, slug = max(marked)  # the latest one marked: what is being read now
    project = catalog.project(slug)
    subject = "The group marked" if reader.group else "You marked"
    reason = f"{subject} it as reading on {at.day} {at:%b %Y}; 'done {slug}' when finished."
    if len(marked) > 1:
        reason += f" {len(marked) - 1} more marked reading."
    return Pick(project, reason, Rule.READING)


def _followed_path(catalog: Catalog, reader: _Reader, follows: Sequence[str]) -> Pick | None:
    for slug in follows:
        path = catalog.find_path(slug)
        if path is None:
            continue  # a path a custom catalog no longer has
        index = next((i for i, s in enumerate(path.steps) if s not in reader.closed), None)
        if index is None:
            continue  # finished: the next followed path, or the level
        step = PathStep(path, index + 1)
        project = catalog.project(step.slug)
        verb = "follows" if reader.group else "follow"
        # The step's own line goes beside the reason (cards.next_reply): it may name
        # projects not read yet, and a reason names only what was read.
        reason = f"Step {step.step} of {step.total} in {path.title}, which {reader.you} {verb}."
        foundations = _read_foundations(catalog, reader, project)
        if foundations:
            reason += f" It builds on {_names(foundations)}, which {reader.you} read."
        return Pick(project, reason, Rule.PATH, step, builds_on=tuple(foundations))
    return None


def _working_level(
    counts: Mapping[Level, tuple[int, int]],
) -> tuple[Level, Level | None]:
    """The working level, and the highest level more than half read (None: none is)."""
    mostly: Level | None = None
    for level in Level:
        read, total = counts[level]
        if total and read / total > MOSTLY_READ:
            mostly = level
    if mostly is None:
        return Level.BEGINNER, None
    return mostly.up() or mostly, mostly


def _by_level(catalog: Catalog, reader: _Reader) -> Pick | None:
    counts = level_counts(catalog, reader.done)
    working, mostly = _working_level(counts)
    traits = _traits(catalog)
    for level in (*_NEAREST_FIRST[working], None):  # None: the projects found only in paths
        found = _best(catalog, reader, traits.by_level.get(level, ()))
        if found is None:
            continue
        project, foundations, shared_with, shared = found
        if level is None:
            lead = "Every level is read or passed; this one appears only in learning paths."
            rule = Rule.ANYTHING
        elif level is working:
            read, total = counts[level]
            lead = f"{reader.your.capitalize()} level is {level.value}"
            if mostly is not None and mostly is not working:
                below = counts[mostly]
                lead += f" ({reader.you} read {below[0]} of {below[1]} at {mostly.value})"
            lead += f": {read} of {total} read."
            rule = Rule.LEVEL
        else:
            read, total = counts[level]
            left = "nothing is left unread" if not reader.group else "nothing is left"
            lead = (
                f"At {working.value}, {reader.your} level, {left}; the nearest level with "
                f"some is {level.value}: {read} of {total} read."
            )
            rule = Rule.NEAREST
        why = _why(catalog, reader, project, foundations, shared_with, shared)
        return Pick(project, f"{lead} {why}", rule, None, tuple(foundations), shared_with, shared)
    return None


@dataclass(frozen=True)
class _Trait:
    """What ranking needs of a project, as sets: ranking runs on every 'next'."""

    slug: str
    project: Project
    order: int
    builds_on: frozenset[str]
    concepts: frozenset[str]


@dataclass(frozen=True)
class _Traits:
    by_slug: dict[str, _Trait]
    by_level: dict[Level | None, tuple[_Trait, ...]]  # None: only in paths; roadmap order


def _traits(catalog: Catalog) -> _Traits:
    def build() -> _Traits:
        traits = [
            _Trait(p.slug, p, i, frozenset(p.builds_on), frozenset(p.concepts))
            for i, p in enumerate(catalog.projects)
        ]
        by_level: dict[Level | None, tuple[_Trait, ...]] = {
            level: tuple(t for t in traits if t.project.level is level) for level in (*Level, None)
        }
        return _Traits({t.slug: t for t in traits}, by_level)

    return catalog.memo("recommend.traits", build)


def _best(
    catalog: Catalog, reader: _Reader, pool: Iterable[_Trait]
) -> tuple[Project, list[Project], Project | None, tuple[str, ...]] | None:
    """Builds on something read, then most concepts shared, then the roadmap's order."""
    read_concepts = _read_concepts(catalog, reader)
    done = reader.done.keys()
    unavailable = reader.unavailable
    best: tuple[tuple[bool, int, int], _Trait] | None = None
    for trait in pool:
        if trait.slug in unavailable:
            continue
        key = (done.isdisjoint(trait.builds_on), -len(read_concepts & trait.concepts), trait.order)
        if best is None or key < best[0]:
            best = (key, trait)
    if best is None:
        return None
    project = best[1].project
    foundations = _read_foundations(catalog, reader, project)
    shared_with, shared = _closest_read(catalog, reader, project)
    return project, foundations, shared_with, shared


def _why(
    catalog: Catalog,
    reader: _Reader,
    project: Project,
    foundations: list[Project],
    shared_with: Project | None,
    shared: tuple[str, ...],
) -> str:
    if foundations:
        return f"It builds on {_names(foundations)}, which {reader.you} read."
    if shared_with is not None:
        labels = [catalog.concept_label(t) for t in shared]
        # 'raft and MVCC', but 'pipelines as well as parallelism and threading'
        joiner = " as well as " if any(" and " in label for label in labels) else " and "
        return f"It shares {joiner.join(labels)} with {shared_with.name}, which {reader.you} read."
    return "It comes first in the roadmap's order among those left."


def _read_foundations(catalog: Catalog, reader: _Reader, project: Project) -> list[Project]:
    return catalog.foundations(project.slug, among=reader.done)


def _read_concepts(catalog: Catalog, reader: _Reader) -> frozenset[str]:
    by_slug = _traits(catalog).by_slug
    return frozenset().union(*(by_slug[s].concepts for s in reader.done if s in by_slug))


def _closest_read(
    catalog: Catalog, reader: _Reader, project: Project
) -> tuple[Project | None, tuple[str, ...]]:
    """The read project sharing the most concepts with this one (ties: roadmap order),
    and up to two of the tags both carry, in this project's order."""
    best: tuple[int, int, Project] | None = None
    by_slug = _traits(catalog).by_slug
    mine = by_slug[project.slug].concepts
    for slug in reader.done:
        trait = by_slug.get(slug)
        if trait is None:
            continue  # a mark for a project a custom catalog no longer has
        other = trait.project
        overlap = len(mine & trait.concepts)
        key = (-overlap, catalog.order(slug))
        if overlap and (best is None or key < best[:2]):
            best = (*key, other)
    if best is None:
        return None, ()
    other = best[2]
    return other, tuple(t for t in project.concepts if t in other.concepts)[:2]


def _names(projects: Sequence[Project]) -> str:
    names = [p.name for p in projects]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
