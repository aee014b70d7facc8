"""The study-group page's map: a target's steps as nodes on a winding line. Pure.

Steps run left to right, then right to left on the next row, so the line between them
never crosses itself and the map stays a few rows tall even for a 38-step level. Each
state has its own shape and mark, not only its colour: covered steps are filled with a
check, skipped ones dashed with a dash, this week's is a double ring, upcoming ones a
hollow ring with their number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roadmap_bot.groups.standing import Step, StepState

STEP_X = 92  # distance between nodes: room for a label of LABEL_CHARS
ROW_Y = 92  # distance between rows
MARGIN_X = 44
MARGIN_Y = 36
LABEL_CHARS = 10  # a node's label under it; the full name is in its <title>


@dataclass(frozen=True, slots=True)
class Node:
    step: Step
    x: int
    y: int
    mark: str  # the character inside the node
    label: str  # the short name under it

    @property
    def state(self) -> str:
        return self.step.state.name.lower().replace("_", "-")  # a CSS-safe class name


@dataclass(frozen=True, slots=True)
class StepMap:
    width: int
    height: int
    nodes: tuple[Node, ...]
    line: str  # the SVG path through every node, in order


def per_row(count: int) -> int:
    """Up to 8 steps a row: readable on a phone once the map is scaled to its width."""
    return max(1, min(8, count))


def step_map(steps: Sequence[Step]) -> StepMap:
    columns = per_row(len(steps))
    nodes = []
    for index, step in enumerate(steps):
        row, column = divmod(index, columns)
        if row % 2:
            column = columns - 1 - column
        nodes.append(
            Node(
                step=step,
                x=MARGIN_X + column * STEP_X,
                y=MARGIN_Y + row * ROW_Y,
                mark=_MARK.get(step.state, str(step.number)),
                label=_short(step.name),
            )
        )
    rows = max(1, -(-len(steps) // columns))
    line = " ".join(f"{'M' if i == 0 else 'L'}{n.x},{n.y}" for i, n in enumerate(nodes))
    return StepMap(
        width=2 * MARGIN_X + (columns - 1) * STEP_X,
        height=2 * MARGIN_Y + (rows - 1) * ROW_Y + 20,
        nodes=tuple(nodes),
        line=line,
    )


_MARK = {StepState.COVERED: "✓", StepState.SKIPPED: "–"}


def _short(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1].rstrip() + "…"
