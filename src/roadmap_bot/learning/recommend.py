"""Recommendations with reasons: next for a person, next for a group, next path.

The rules, in order:

1. Continue a path the person started (the one they touched most recently).
2. Otherwise stay in their level (the highest level they have finished something in;
   beginner to start), moving up once most of that level is done.
3. Within the level, prefer the project that shares the most concepts with what they
   finished; ties go to the roadmap's order.

Never something done or skipped, and always the same answer for the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from roadmap_bot.learning.catalog import Catalog, LearningPath, Level, PathStep, Project
from roadmap_bot.store import Mark, Status

MOSTLY_DONE = 0.5  # "most of a level": strictly more than half


class Rule(StrEnum):
    PATH = "path"
    LEVEL_UP = "level-up"
    CONCEPTS = "concepts"
    LEVEL = "level"
    START = "start"
    ANYTHING = "anything"


@dataclass(frozen=True)
class Pick:
    project: Project
    reason: str
    rule: Rule
    step: PathStep | None = None


@dataclass(frozen=True)
class PathPick:
    path: LearningPath
    reason: str


@dataclass(frozen=True)
class _State:
    done: dict[str, datetime]
    touched: dict[str, datetime]  # done or reading: shows which paths were started
    excluded: frozenset[str]  # never recommend these


def _state(marks: Mapping[str, Mark]) -> _State:
    done = {slug: m.at for slug, m in marks.items() if m.status is Status.DONE}
    touched = {slug: m.at for slug, m in marks.items() if m.status is not Status.SKIPPED}
    excluded = frozenset(s for s, m in marks.items() if m.status is not Status.READING)
    return _State(done, touched, excluded)


def next_for_person(catalog: Catalog, marks: Mapping[str, Mark]) -> Pick | None:
    """The next project for one person, or None when nothing is left."""
    return _pick(catalog, _state(marks), "you")


def next_for_group(
    catalog: Catalog, marks_by_user: Mapping[str, Mapping[str, Mark]]
) -> Pick | None:
    """The next project for a group: what at least half of its members have done counts."""
    return _pick(catalog, _state(group_marks(marks_by_user)), "the group")


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


def next_path(
    catalog: Catalog, marks: Mapping[str, Mark], exclude: Iterable[str] = ()
) -> PathPick | None:
    """The learning path to take up next: most concepts in common with what was done."""
    state = _state(marks)
    skip = set(exclude)
    done_concepts = _concept_counts(catalog, state.done)
    best: tuple[tuple[int, float, int], LearningPath] | None = None
    for order, path in enumerate(catalog.paths):
        if path.slug in skip or all(step in state.excluded for step in path.steps):
            continue
        overlap = sum(
            1
            for step in path.steps
            for tag in catalog.project(step).concepts
            if tag in done_concepts
        )
        started = sum(1 for step in path.steps if step in state.done) / len(path.steps)
        key = (-overlap, -started, order)
        if best is None or key < best[0]:
            best = (key, path)
    if best is None:
        return None
    path = best[1]
    first = catalog.project(path.steps[0])
    if best[0][0] < 0:
        reason = f"It builds on concepts you have already met and starts with {first.name}."
    else:
        reason = f"A fresh direction that starts with {first.name}."
    return PathPick(path, reason)


# -- the rules -------------------------------------------------------------------------------


def _pick(catalog: Catalog, state: _State, who: str) -> Pick | None:
    return _continue_path(catalog, state, who) or _by_level(catalog, state, who)


def _continue_path(catalog: Catalog, state: _State, who: str) -> Pick | None:
    best: tuple[tuple[datetime, int], LearningPath, int] | None = None
    for order, path in enumerate(catalog.paths):
        times = [state.touched[s] for s in path.steps if s in state.touched]
        if not times:
            continue
        open_steps = [i for i, s in enumerate(path.steps) if s not in state.excluded]
        if not open_steps:
            continue
        # Finish a step being read before starting the earliest open one.
        reading = [i for i in open_steps if path.steps[i] in state.touched]
        key = (max(times), -order)  # most recent activity; earlier path on a tie
        if best is None or key > best[0]:
            best = (key, path, (reading or open_steps)[0])
    if best is None:
        return None
    _, path, index = best
    project = catalog.project(path.steps[index])
    before = [catalog.project(s) for s in path.steps[:index] if s in state.done]
    step = f"Step {index + 1} of {len(path.steps)} in {path.title}"
    if before:
        finished = "you" if who == "you" else "the group"
        reason = f"{step}: it picks up where {before[-1].name} left off, which {finished} finished."
    elif project.slug in state.touched:
        reason = f"{step}: {who} started it; finish it to move along the path."
    else:
        reason = f"{step}: continue the path {who} started."
    return Pick(project, reason, Rule.PATH, PathStep(path, index + 1))


def _by_level(catalog: Catalog, state: _State, who: str) -> Pick | None:
    done_projects = [p for s in state.done if (p := catalog.get(s)) is not None]
    reached = [p.level for p in done_projects if p.level is not None]
    if not state.done:
        level: Level | None = Level.BEGINNER
        rule = Rule.START
    else:
        level = max(reached, key=lambda lv: lv.rank) if reached else Level.BEGINNER
        rule = Rule.CONCEPTS
    finished = 0
    total = 0
    if level is not None:
        members = catalog.level(level)
        total = len(members)
        finished = sum(1 for p in members if p.slug in state.done)
        if state.done and total and finished / total > MOSTLY_DONE and level.up():
            level, rule = level.up(), Rule.LEVEL_UP
    candidates = [p for p in catalog.level(level)] if level else []
    candidates = [p for p in candidates if p.slug not in state.excluded]
    if not candidates:
        # The level is exhausted: anything left, levelled or path-only.
        candidates = [p for p in catalog.projects if p.slug not in state.excluded]
        rule = Rule.ANYTHING if state.done else Rule.START
    if not candidates:
        return None

    done_concepts = _concept_counts(catalog, state.done)
    best = min(
        candidates,
        key=lambda p: (-_overlap(p, done_concepts), catalog.order(p.slug)),
    )
    shared = [tag for tag in best.concepts if tag in done_concepts]
    return Pick(best, _reason(catalog, state, best, shared, rule, finished, total, who), rule)


def _reason(
    catalog: Catalog,
    state: _State,
    project: Project,
    shared: list[str],
    rule: Rule,
    finished: int,
    total: int,
    who: str,
) -> str:
    level = project.level.value if project.level else "path-only"
    labels = " and ".join(catalog.concept_label(t) for t in shared[:2])
    source = _closest_done(catalog, state, project)
    builds = f"it shares {labels} with {source.name}" if labels and source else ""
    if rule is Rule.START:
        return f"A {level} project and the roadmap's first stop: a good place to start."
    if rule is Rule.LEVEL_UP:
        lead = f"{who.capitalize()} finished {finished} of {total} at the level below: time for {level}"
        return f"{lead}; {builds}." if builds else f"{lead}."
    if builds:
        return f"Next in {level}: {builds}."
    return f"Next in {level}, in the roadmap's order."


def _closest_done(catalog: Catalog, state: _State, project: Project) -> Project | None:
    mine = set(project.concepts)
    best: tuple[int, datetime, Project] | None = None
    for slug, at in state.done.items():
        other = catalog.get(slug)
        if other is None:
            continue
        overlap = len(mine.intersection(other.concepts))
        if overlap and (best is None or (overlap, at) > (best[0], best[1])):
            best = (overlap, at, other)
    return best[2] if best else None


def _concept_counts(catalog: Catalog, done: Mapping[str, datetime]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for slug in done:
        project = catalog.get(slug)
        if project is None:
            continue  # a mark for a project a custom catalog no longer has
        for tag in project.concepts:
            counts[tag] = counts.get(tag, 0) + 1
    return counts


def _overlap(project: Project, done_concepts: Mapping[str, int]) -> int:
    return sum(1 for tag in project.concepts if tag in done_concepts)
