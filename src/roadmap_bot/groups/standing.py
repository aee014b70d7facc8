"""Where a study group stands: its target's steps and each member against them. Pure.

Both the `group` command and the study-group page show this; they differ only in how
it looks. The group's current step is this week's post (the latest posted pick). A
member is behind by the steps the group already covered before it that they have
neither done nor passed, and ahead by the steps after it they have already done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from roadmap_bot.chat.replies import Cell
from roadmap_bot.groups.digest import plan, target_title
from roadmap_bot.groups.streaks import Streak
from roadmap_bot.learning.catalog import Catalog
from roadmap_bot.store import Mark, Status


class StepState(StrEnum):
    COVERED = "covered"  # posted in an earlier week
    SKIPPED = "skipped"  # the group skipped it
    THIS_WEEK = "this week"
    UPCOMING = "upcoming"


@dataclass(frozen=True, slots=True)
class Step:
    number: int  # 1-based
    slug: str
    name: str
    line: str  # one sentence on the step
    report_url: str
    state: StepState


@dataclass(frozen=True, slots=True)
class MemberStanding:
    user: str
    name: str
    cells: tuple[Cell, ...]
    done: int
    reading: int
    behind: int
    ahead: int
    streak: Streak

    @property
    def pace(self) -> str:
        if self.behind:
            return f"behind by {self.behind}"
        if self.ahead:
            return f"ahead by {self.ahead}"
        return "on pace"


@dataclass(frozen=True, slots=True)
class Standing:
    title: str
    target: str
    steps: tuple[Step, ...]
    current: int | None  # 0-based index of this week's step; None before the first post
    members: tuple[MemberStanding, ...]  # furthest along first

    @property
    def current_step(self) -> Step | None:
        return self.steps[self.current] if self.current is not None else None


_CELL = {Status.DONE: Cell.DONE, Status.READING: Cell.READING, Status.SKIPPED: Cell.PASSED}


def standing(
    catalog: Catalog,
    target: str,
    covered: Mapping[str, str],
    posted: Sequence[str],
    marks: Mapping[str, Mapping[str, Mark]],
    names: Mapping[str, str],
    streaks: Mapping[str, Streak],
) -> Standing:
    """The group's steps and its members' rows (members: whoever used the bot here)."""
    slugs = plan(catalog, target)
    this_week = next((p for p in reversed(posted) if p in slugs), None)
    current = slugs.index(this_week) if this_week is not None else None
    steps = tuple(
        Step(
            number=i + 1,
            slug=slug,
            name=catalog.project(slug).name,
            line=_step_line(catalog, target, slug),
            report_url=catalog.project(slug).report_url,
            state=_step_state(slug, i, current, covered),
        )
        for i, slug in enumerate(slugs)
    )
    position = {slug: i for i, slug in enumerate(slugs)}
    before = [i for i, s in enumerate(steps[: current or 0]) if s.state is StepState.COVERED]
    after = range(current + 1, len(steps)) if current is not None else range(0)
    finished = (Cell.DONE, Cell.PASSED)
    rows = []
    for user, their in marks.items():
        # Walk the member's marks, not every step: most have marked a few.
        cells = [Cell.NOT_YET] * len(slugs)
        for slug, mark in their.items():
            index = position.get(slug)
            if index is not None:
                cells[index] = _CELL[mark.status]
        rows.append(
            MemberStanding(
                user=user,
                name=names.get(user) or user.rsplit(":", 1)[-1],
                cells=tuple(cells),
                done=cells.count(Cell.DONE),
                reading=cells.count(Cell.READING),
                behind=sum(1 for i in before if cells[i] not in finished),
                ahead=sum(1 for i in after if cells[i] is Cell.DONE),
                streak=streaks.get(user, Streak()),
            )
        )
    rows.sort(key=lambda r: (-r.done - r.ahead, r.behind, r.name.casefold(), r.user))
    return Standing(target_title(catalog, target), target, steps, current, tuple(rows))


def _step_state(
    slug: str, index: int, current: int | None, covered: Mapping[str, str]
) -> StepState:
    if current is not None and index == current:
        return StepState.THIS_WEEK
    how = covered.get(slug)
    if how == "skipped":
        return StepState.SKIPPED
    if how == "posted":
        return StepState.COVERED
    return StepState.UPCOMING


def _step_line(catalog: Catalog, target: str, slug: str) -> str:
    """The path's own line for the step (what it adds), else the project's summary."""
    kind, key = target.split(":", 1)
    if kind == "path":
        for step in catalog.paths_of(slug):
            if step.path.slug == key and step.line:
                return step.line
    return catalog.project(slug).summary
