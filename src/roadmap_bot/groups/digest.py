"""What a study group reads each week: the plan through a target, and the digest itself.

Pure functions: the deliverer and the `digest` command gather the state, these decide
the words. A target is a learning path (walked in its order) or a level (walked from
the roadmap's first project, then always to the one sharing most with what came before,
so each week builds on the last).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from roadmap_bot.chat.cards import report_links
from roadmap_bot.chat.replies import (
    Action,
    Fact,
    Item,
    Link,
    Meter,
    Reply,
    ReplyKind,
    Section,
    Style,
)
from roadmap_bot.learning.catalog import Catalog, Level, Project
from roadmap_bot.learning.recommend import group_marks, next_path
from roadmap_bot.learning.suggest import close_matches
from roadmap_bot.learning.text import normalize_name
from roadmap_bot.store import Mark, Status
from roadmap_bot.store.digests import Subscription


@dataclass(frozen=True)
class ReadingAgenda:
    """From a project's report: its design decision headings and takeaway lead phrases."""

    decisions: tuple[str, ...] = ()
    takeaways: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupState:
    """What the deliverer knows about a channel when it composes a digest."""

    covered: Mapping[str, str]  # slug -> 'posted' | 'skipped'
    posted: Sequence[str]  # posted picks, oldest first
    marks: Mapping[str, Mapping[str, Mark]]  # member -> their marks
    names: Mapping[str, str]  # member -> display name


@dataclass(frozen=True)
class Digest:
    kind: str  # 'digest' or 'completion'
    project: str | None
    message: Reply
    discussion: Reply | None = None  # Slack: a thread reply; Discord: a thread
    thread_title: str = ""
    prompts: tuple[str, ...] = field(default=())


# -- targets and plans ------------------------------------------------------------------------


def resolve_target(catalog: Catalog, text: str) -> tuple[str | None, tuple[str, ...]]:
    """('path:<slug>' or 'level:<level>', ()) or (None, suggestions)."""
    folded = normalize_name(text)
    for level in Level:
        if folded == level.value:
            return f"level:{level.value}", ()
    path = catalog.find_path(text)
    if path is None:
        matches = [p for p in catalog.paths if folded and folded in normalize_name(p.slug)]
        path = matches[0] if len(matches) == 1 else None
    if path is not None:
        return f"path:{path.slug}", ()
    choices = [*catalog.path_keys, *(lv.value for lv in Level)]
    guesses = close_matches(text, choices, limit=3, cutoff=60)
    fixed = []
    for guess in guesses:
        found = catalog.find_path(guess)
        fixed.append(found.slug if found else guess)
    return None, tuple(dict.fromkeys(fixed))


def target_title(catalog: Catalog, target: str) -> str:
    kind, key = target.split(":", 1)
    if kind == "path":
        path = catalog.find_path(key)
        return path.title if path else key
    return f"the {key} level"


def plan(catalog: Catalog, target: str) -> list[str]:
    """The order a group walks a target in."""
    return catalog.memo(("plan", target), lambda: _plan(catalog, target))


def _plan(catalog: Catalog, target: str) -> list[str]:
    kind, key = target.split(":", 1)
    if kind == "path":
        path = catalog.find_path(key)
        return list(path.steps) if path else []
    projects = catalog.level(Level(key))
    if not projects:
        return []
    order = [projects[0]]
    seen_concepts = set(projects[0].concepts)
    left = projects[1:]
    while left:
        best = max(
            left, key=lambda p: (len(seen_concepts.intersection(p.concepts)), -left.index(p))
        )
        order.append(best)
        seen_concepts.update(best.concepts)
        left.remove(best)
    return [p.slug for p in order]


def upcoming(catalog: Catalog, target: str, covered: Mapping[str, str]) -> tuple[int, str | None]:
    """(0-based index, slug) of the first step the channel has not covered; None when done."""
    for index, slug in enumerate(plan(catalog, target)):
        if slug not in covered:
            return index, slug
    return len(plan(catalog, target)), None


# -- the weekly post ---------------------------------------------------------------------------


def compose_digest(
    catalog: Catalog,
    sub: Subscription,
    state: GroupState,
    agenda: ReadingAgenda | None = None,
    last_agenda: ReadingAgenda | None = None,
) -> Digest:
    """The project of the week for a channel, or the completion post after the last step."""
    steps = plan(catalog, sub.target)
    index, slug = upcoming(catalog, sub.target, state.covered)
    if slug is None:
        return compose_completion(catalog, sub, state)
    project = catalog.project(slug)
    title = target_title(catalog, sub.target)
    last = catalog.get(state.posted[-1]) if state.posted else None
    following = next((s for s in steps[index + 1 :] if s not in state.covered), None)

    why = f"Step {index + 1} of {len(steps)} in {title}."
    if last is not None:
        shared = [catalog.concept_label(t) for t in project.concepts if t in last.concepts]
        if shared:
            why += f" It builds on {last.name} from last week: both deal with {_and(shared[:2])}."
        else:
            why += f" After {last.name} last week, a new angle on {title}."
    else:
        why += " The first step: everything after builds on it."

    prompts = discussion_prompts(catalog, project, last, agenda, last_agenda)
    sections = [Section(heading="Why this one", text=why)]
    read = Section(
        heading="What to read",
        text="Read the report, closely the Key Design Decisions and Key Takeaways.",
        items=tuple(Item(title=d, prefix=f"{i}.") for i, d in enumerate(agenda.decisions, 1))
        if agenda
        else (),
        links=report_links(project),
    )
    sections.append(read)
    sections.append(Section(heading="To discuss", items=tuple(Item(title=p) for p in prompts)))
    if last is not None:
        sections.append(Section(heading=f"Last week: {last.name}", text=_recap(last, state)))
    covered_steps = sum(1 for s in steps if s in state.covered)
    sections.append(
        Section(
            heading="The group so far",
            meters=(Meter(label=title, done=covered_steps, total=len(steps)),),
            text=_readers(catalog, steps, state),
        )
    )
    footer = (
        f"Next week: {catalog.project(following).name}."
        if following
        else "This is the last step: next week the group gets its completion post."
    )
    message = Reply(
        kind=ReplyKind.DIGEST,
        title=f"Project of the week: {project.name}",
        text=project.summary,
        facts=(
            Fact(label="Level", value=project.level_label),
            Fact(label="Step", value=f"{index + 1} of {len(steps)} in {title}"),
            Fact(label="Language", value=project.language),
        ),
        sections=tuple(sections),
        actions=(
            Action(label="Done", command=f"done {slug}", style=Style.PRIMARY),
            Action(label="Reading", command=f"reading {slug}"),
            Action(label="Skip for me", command=f"pass {slug}"),
            Action(label="Open report", url=project.report_url),
        ),
        footer=footer,
        command=f"project {slug}",
        public=True,
    )
    discussion = Reply(
        kind=ReplyKind.DIGEST,
        title=f"Discussion: {project.name}",
        text="Reply in this thread as you read.",
        items=tuple(Item(title=p, prefix=f"{i}.") for i, p in enumerate(prompts, 1)),
        public=True,
    )
    return Digest("digest", slug, message, discussion, f"Discuss: {project.name}", prompts)


def compose_completion(catalog: Catalog, sub: Subscription, state: GroupState) -> Digest:
    """After the last step: the group's numbers and where to go next."""
    steps = plan(catalog, sub.target)
    title = target_title(catalog, sub.target)
    posted = sum(1 for s in steps if state.covered.get(s) == "posted")
    skipped = sum(1 for s in steps if state.covered.get(s) == "skipped")
    finishers = [u for u, m in state.marks.items() if all(_done(m, s) for s in steps)]
    reads = sum(1 for m in state.marks.values() for s in steps if _done(m, s))
    merged = group_marks(state.marks)
    exclude = [sub.target_key] if sub.target_kind == "path" else []
    suggestion = next_path(catalog, merged, exclude=exclude)
    facts = [
        Fact(label="Weeks", value=f"{posted} posted, {skipped} skipped"),
        Fact(label="Reports read", value=f"{reads} by {len(state.marks)} member(s)"),
        Fact(label="Finished every step", value=_names(finishers, state) or "nobody yet"),
    ]
    actions: list[Action] = []
    text = f"The group has been through all {len(steps)} steps of {title}."
    if suggestion is not None:
        text += f" Next, try {suggestion.path.title}: {suggestion.reason}"
        actions.append(
            Action(
                label=f"Subscribe to {suggestion.path.title}",
                command=f"subscribe {suggestion.path.slug}",
                style=Style.PRIMARY,
            )
        )
        actions.append(Action(label="See the path", command=f"path {suggestion.path.slug}"))
    message = Reply(
        kind=ReplyKind.DIGEST,
        title=f"{title[:1].upper()}{title[1:]}: complete!",
        text=text,
        facts=tuple(facts),
        actions=tuple(actions),
        footer="This subscription has ended. 'subscribe PATH' starts the next one.",
        public=True,
    )
    return Digest("completion", None, message)


def discussion_prompts(
    catalog: Catalog,
    project: Project,
    last: Project | None,
    agenda: ReadingAgenda | None,
    last_agenda: ReadingAgenda | None,
) -> tuple[str, ...]:
    """Two or three questions from the project's concepts, last week's pick and the report."""
    prompts: list[str] = []
    if agenda and agenda.decisions and last is not None and last_agenda and last_agenda.decisions:
        prompts.append(
            f"Set {project.name}'s \"{agenda.decisions[0]}\" against {last.name}'s "
            f'"{last_agenda.decisions[0]}": which problem does each trade-off fit?'
        )
    if last is not None:
        shared = [t for t in project.concepts if t in last.concepts]
        if shared:
            label = catalog.concept_label(shared[0])
            prompts.append(
                f"{project.name} and {last.name} both rely on {label}: "
                "what does each gain from it, and what does it cost them?"
            )
        else:
            prompts.append(
                f"What would {last.name} look like if it were built the way {project.name} is?"
            )
    concept = catalog.concept_label(project.concepts[0])
    prompts.append(
        f"Where does {concept} show up in {project.name}'s design, and what would break without it?"
    )
    if agenda and agenda.takeaways:
        prompts.append(
            f'The report\'s takeaway "{agenda.takeaways[0]}": where would it apply in '
            "a system you work on?"
        )
    else:
        prompts.append(
            f"Which of {project.name}'s design decisions would you bring to a system you "
            "work on, and which would you leave out?"
        )
    return tuple(prompts[:3])


def _recap(last: Project, state: GroupState) -> str:
    readers = [u for u, marks in state.marks.items() if _done(marks, last.slug)]
    if not readers:
        return f"Nobody has marked {last.name} done yet: there is still time."
    verb = "has" if len(readers) == 1 else "have"
    return f"{_names(readers, state)} {verb} marked it done."


def _readers(catalog: Catalog, steps: Sequence[str], state: GroupState) -> str:
    active = [u for u, m in state.marks.items() if any(_done(m, s) for s in steps)]
    if not state.marks:
        return "Press Done when you have read a report: the group's progress shows up here."
    return f"{len(active)} of {len(state.marks)} member(s) have read at least one step."


def _names(users: Sequence[str], state: GroupState) -> str:
    # Plain display names, never mentions: a recap must not ping anyone.
    names = sorted(state.names.get(u, u.rsplit(":", 1)[-1]) for u in users)
    if len(names) > 8:
        return ", ".join(names[:8]) + f" and {len(names) - 8} more"
    return _and(names)


def _and(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _done(marks: Mapping[str, Mark], slug: str) -> bool:
    mark = marks.get(slug)
    return mark is not None and mark.status is Status.DONE


__all__ = [
    "Digest",
    "GroupState",
    "Link",
    "ReadingAgenda",
    "compose_completion",
    "compose_digest",
    "plan",
    "resolve_target",
    "target_title",
    "upcoming",
]
