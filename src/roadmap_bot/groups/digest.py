"""What a study group reads each week: the plan through a target, and the digest itself.

Pure functions: the deliverer and the `digest` command gather the state, these decide
the words. A target is a learning path (walked in its order) or a level (walked so that
a project comes after the ones it builds on; among those ready, the one that builds on
what came before, then the one sharing most concepts with it, then the roadmap's order).

The discussion prompts are this week's own: built from the project's decision headings
and takeaway lead phrases (quoted, never the prose under them), rotating over them week
by week, and set against the earlier steps the project builds on. Every prompt names
the week's project, and a project comes once per plan, so no prompt repeats within a
subscription.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
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
from roadmap_bot.groups.news import GroupNews
from roadmap_bot.learning.catalog import Catalog, Level, PathStep, Project
from roadmap_bot.learning.recommend import group_marks, next_path
from roadmap_bot.learning.suggest import close_matches
from roadmap_bot.learning.text import normalize_name
from roadmap_bot.store import Mark, Status
from roadmap_bot.store.digests import Subscription

PROMPTS = 3  # discussion prompts a week


@dataclass(frozen=True)
class ReadingAgenda:
    """From a project's report: its design decision headings and takeaway lead phrases."""

    decisions: tuple[str, ...] = ()
    takeaways: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()  # each decision's anchor in the report, when known

    def decision_url(self, project: Project, index: int) -> str | None:
        if index < len(self.anchors) and self.anchors[index]:
            return f"{project.report_url}#{self.anchors[index]}"
        return None


@dataclass(frozen=True)
class GroupState:
    """What the deliverer knows about a channel when it composes a digest."""

    covered: Mapping[str, str]  # slug -> 'posted' | 'skipped'
    posted: Sequence[str]  # posted picks, oldest first
    marks: Mapping[str, Mapping[str, Mark]]  # member -> their marks
    names: Mapping[str, str]  # member -> display name
    news: GroupNews = field(default_factory=GroupNews)  # activity, streaks, the page link


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
    return level_walk(catalog, catalog.level(Level(key)))


def level_walk(catalog: Catalog, projects: Sequence[Project]) -> list[str]:
    """A level in teaching order: never a project before one it builds on in the level.

    Among the projects that are ready, one building on something that came before goes
    first (CoreDNS right after Caddy), then the one sharing most concepts with what came
    before, then the roadmap's order: the preferences ``next`` has within a level.
    """
    inside = {p.slug for p in projects}
    placed: list[str] = []
    seen_concepts: set[str] = set()
    left = list(projects)
    while left:
        done = set(placed)
        ready = [p for p in left if all(b in done or b not in inside for b in p.builds_on)]
        # a cycle cannot pass 'catalog check'; should one slip through, keep walking
        best = min(
            ready or left,
            key=lambda p: (
                not any(b in done for b in p.builds_on),
                -len(seen_concepts.intersection(p.concepts)),
                catalog.order(p.slug),
            ),
        )
        placed.append(best.slug)
        seen_concepts.update(best.concepts)
        left.remove(best)
    return placed


def upcoming(catalog: Catalog, target: str, covered: Mapping[str, str]) -> tuple[int, str | None]:
    """(0-based index, slug) of the first step the channel has not covered; None when done."""
    for index, slug in enumerate(plan(catalog, target)):
        if slug not in covered:
            return index, slug
    return len(plan(catalog, target)), None


def foundations(catalog: Catalog, target: str, index: int) -> list[Project]:
    """The earlier steps of the plan that its step ``index`` builds on."""
    steps = plan(catalog, target)
    return catalog.foundations(steps[index], among=steps[:index])


def agenda_slugs(catalog: Catalog, target: str, state: GroupState) -> list[str]:
    """Whose report outlines the coming digest quotes: the pick's and what it builds on."""
    index, slug = upcoming(catalog, target, state.covered)
    if slug is None:
        return []
    return [slug, *(p.slug for p in foundations(catalog, target, index)[:1])]


# -- the weekly post ---------------------------------------------------------------------------


def compose_digest(
    catalog: Catalog,
    sub: Subscription,
    state: GroupState,
    agendas: Mapping[str, ReadingAgenda] | None = None,
) -> Digest:
    """The project of the week for a channel, or the completion post after the last step.

    ``agendas``: report outlines by slug, for the slugs :func:`agenda_slugs` names; any
    may be missing (the source was down): the digest then goes without them.
    """
    agendas = agendas or {}
    index, slug = upcoming(catalog, sub.target, state.covered)
    if slug is None:
        return compose_completion(catalog, sub, state)
    week = _week(catalog, sub, state, index, agendas)
    own: list[Section] = []
    if week.last is not None:
        recap = " ".join(t for t in (_recap(week.last, state), state.news.streaks) if t)
        own.append(Section(heading=f"Last week: {week.last.name}", text=recap))
    own.append(_so_far(catalog, sub, state))
    message = Reply(
        kind=ReplyKind.DIGEST,
        title=week.title,
        text=week.project.summary,
        facts=week.facts,
        sections=(*week.sections, *own),
        actions=week.actions,
        footer=week.footer,
        command=f"project {slug}",
        public=True,
    )
    return Digest(
        "digest", slug, message, week.discussion, f"Discuss: {week.project.name}", week.prompts
    )


WEEKS_KEPT = 256  # shared week parts kept per catalog; a fan-out needs one per target and step


@dataclass(frozen=True)
class _Week:
    """The part of a weekly post that every channel at the same point of the same target
    gets alike: all but the recap and the group's progress. A fan-out of thousands of
    channels composes it once per (target, step) instead of once per channel, and the
    channels share these very objects (Slack's renderer builds a shared section once)."""

    project: Project
    last: Project | None
    title: str
    facts: tuple[Fact, ...]
    sections: tuple[Section, ...]  # why this one, what to read, to discuss
    actions: tuple[Action, ...]
    footer: str
    discussion: Reply
    prompts: tuple[str, ...]


def _week(
    catalog: Catalog,
    sub: Subscription,
    state: GroupState,
    index: int,
    agendas: Mapping[str, ReadingAgenda],
) -> _Week:
    """The shared part, from the catalog's cache. It depends on the target, how the
    channel covered the target's steps (posted, skipped or not yet), last week's pick and
    the outlines of this week's project and of the step it builds on: that is the key."""
    steps = plan(catalog, sub.target)
    bases = foundations(catalog, sub.target, index)
    slug = steps[index]
    key = (
        sub.target,
        tuple(state.covered.get(s) for s in steps),
        state.posted[-1] if state.posted else None,
        agendas.get(slug),
        agendas.get(bases[0].slug) if bases else None,
    )
    weeks: OrderedDict[Hashable, _Week] = catalog.memo("digest weeks", OrderedDict)
    week = weeks.get(key)
    if week is None:
        week = weeks[key] = _build_week(catalog, sub, state, index, agendas)
        if len(weeks) > WEEKS_KEPT:
            weeks.popitem(last=False)  # the least recently used
    else:
        weeks.move_to_end(key)
    return week


def _build_week(
    catalog: Catalog,
    sub: Subscription,
    state: GroupState,
    index: int,
    agendas: Mapping[str, ReadingAgenda],
) -> _Week:
    steps = plan(catalog, sub.target)
    slug = steps[index]
    project = catalog.project(slug)
    title = target_title(catalog, sub.target)
    last = catalog.get(state.posted[-1]) if state.posted else None
    following = next((s for s in steps[index + 1 :] if s not in state.covered), None)
    bases = foundations(catalog, sub.target, index)
    agenda = agendas.get(slug)

    prompts = discussion_prompts(catalog, project, index, bases, last, agendas)
    sections = (
        Section(heading="Why this one", text=why_this_one(catalog, sub, state, index)),
        Section(
            heading="What to read",
            text="Read the report, closely the Key Design Decisions and Key Takeaways.",
            items=tuple(
                Item(title=d, prefix=f"{i}.", url=agenda.decision_url(project, i - 1))
                for i, d in enumerate(agenda.decisions, 1)
            )
            if agenda
            else (),
            links=report_links(project),
        ),
        Section(heading="To discuss", items=tuple(Item(title=p) for p in prompts)),
    )
    footer = (
        f"Next week: {catalog.project(following).name}."
        if following
        else "This is the last step: next week the group gets its completion post."
    )
    discussion = Reply(
        kind=ReplyKind.DIGEST,
        title=f"Discussion: {project.name}",
        text="Reply in this thread as you read.",
        items=tuple(Item(title=p, prefix=f"{i}.") for i, p in enumerate(prompts, 1)),
        links=report_links(project),
        public=True,
    )
    return _Week(
        project,
        last,
        f"Project of the week: {project.name}",
        (
            Fact(label="Level", value=project.level_label),
            Fact(label="Step", value=f"{index + 1} of {len(steps)} in {title}"),
            Fact(label="Language", value=project.language),
        ),
        sections,
        (
            Action(label="Done", command=f"done {slug}", style=Style.PRIMARY),
            Action(label="Reading", command=f"reading {slug}"),
            Action(label="Skip for me", command=f"pass {slug}"),
            Action(label="Open report", url=project.report_url),
        ),
        footer,
        discussion,
        prompts,
    )


def why_this_one(catalog: Catalog, sub: Subscription, state: GroupState, index: int) -> str:
    """The step, the path's own line for it, and what it builds on among the earlier steps."""
    steps = plan(catalog, sub.target)
    project = catalog.project(steps[index])
    title = target_title(catalog, sub.target)
    parts = [f"Step {index + 1} of {len(steps)} in {title}."]
    if sub.target_kind == "path":
        line = PathStep(catalog.path(sub.target_key), index + 1).line
        if line:
            parts.append(line)
    bases = foundations(catalog, sub.target, index)
    if bases:
        parts.append(f"It builds on {_and([_step_name(steps, state, b) for b in bases])}.")
        shared = [catalog.concept_label(t) for t in project.concepts if t in bases[0].concepts]
        if shared:
            parts.append(f"Look for how it takes up {bases[0].name}'s {_and(shared[:2])}.")
    else:
        kin = _closest_earlier(steps[:index], state, project, catalog)
        if kin is not None:
            shared = [catalog.concept_label(t) for t in project.concepts if t in kin.concepts]
            parts.append(f"It shares {_and(shared[:2])} with {_step_name(steps, state, kin)}.")
        elif index == 0 and len(parts) == 1:  # no step line says more
            parts.append("The first step: where the walk begins.")
        elif sub.target_kind == "level":
            parts.append("It shares no concept with the weeks the group has had: a fresh start.")
    previous = steps[index - 1] if index else None
    if previous is not None and state.covered.get(previous) == "skipped":
        parts.append(f"The group skipped step {index} ({catalog.project(previous).name}).")
    return " ".join(parts)


def _step_name(steps: Sequence[str], state: GroupState, project: Project) -> str:
    """'Prometheus (step 1)', or '(step 1, skipped)' when the group skipped it."""
    number = steps.index(project.slug) + 1
    skipped = ", skipped" if state.covered.get(project.slug) == "skipped" else ""
    return f"{project.name} (step {number}{skipped})"


def _closest_earlier(
    earlier: Sequence[str], state: GroupState, project: Project, catalog: Catalog
) -> Project | None:
    """The posted earlier step sharing most concepts with ``project`` (latest on a tie)."""
    best: tuple[int, int, Project] | None = None
    mine = set(project.concepts)
    for position, slug in enumerate(earlier):
        if state.covered.get(slug) != "posted":
            continue
        other = catalog.project(slug)
        overlap = len(mine.intersection(other.concepts))
        if overlap and (best is None or (overlap, position) > best[:2]):
            best = (overlap, position, other)
    return best[2] if best else None


def _so_far(catalog: Catalog, sub: Subscription, state: GroupState) -> Section:
    """The group's progress: the steps posted out of those it takes (skips are not progress)."""
    steps = plan(catalog, sub.target)
    posted = sum(1 for s in steps if state.covered.get(s) == "posted")
    skipped = sum(1 for s in steps if state.covered.get(s) == "skipped")
    text = _readers(steps, state)
    if skipped:
        text += f" {_count(skipped, 'step')} skipped."
    if state.news.activity:  # what the group did since the last post
        text = f"{state.news.activity} {text}"
    page = state.news.page_url
    return Section(
        heading="The group so far",
        meters=(
            Meter(label=target_title(catalog, sub.target), done=posted, total=len(steps) - skipped),
        ),
        text=text,
        links=(Link(label="Study-group page", url=page),) if page else (),
    )


def compose_completion(catalog: Catalog, sub: Subscription, state: GroupState) -> Digest:
    """After the last step: the group's numbers and where to go next."""
    steps = plan(catalog, sub.target)
    title = target_title(catalog, sub.target)
    posted = [s for s in steps if state.covered.get(s) == "posted"]
    skipped = sum(1 for s in steps if state.covered.get(s) == "skipped")
    read = [s for s in steps if any(_done(m, s) for m in state.marks.values())]
    readers = [u for u, m in state.marks.items() if any(_done(m, s) for s in steps)]
    finishers = [u for u, m in state.marks.items() if posted and all(_done(m, s) for s in posted)]
    reads = (
        f"{len(read)} of {len(steps)} reports, by {_count(len(readers), 'member')}"
        if read
        else "none yet"
    )
    facts = [
        Fact(label="Weeks", value=f"{len(posted)} posted, {skipped} skipped"),
        Fact(label="Reports read", value=reads),
        Fact(label="Read every posted step", value=_names(finishers, state) or "nobody yet"),
    ]
    text = f"The group has been through all {len(steps)} steps of {title}."
    following, actions = _what_next(catalog, sub, state)
    message = Reply(
        kind=ReplyKind.DIGEST,
        title=f"{title[:1].upper()}{title[1:]}: complete!",
        text=f"{text} {following}" if following else text,
        facts=tuple(facts),
        actions=actions,
        footer="This subscription has ended. 'subscribe PATH' or 'subscribe LEVEL' starts the next one.",
        public=True,
    )
    return Digest("completion", None, message)


def _what_next(
    catalog: Catalog, sub: Subscription, state: GroupState
) -> tuple[str, tuple[Action, ...]]:
    """The next level up after a level; otherwise the path the group recommender picks.

    Never a target this channel has already been through ('subscribe' would refuse it).
    """
    level = Level(sub.target_key).up() if sub.target_kind == "level" else None
    while level is not None:
        target = f"level:{level.value}"
        _, first = upcoming(catalog, target, state.covered)
        if first is not None:
            left = sum(1 for s in plan(catalog, target) if s not in state.covered)
            return (
                f"Next, the {level.value} level: {_count(left, 'project')}, "
                f"starting with {catalog.project(first).name}.",
                (
                    Action(
                        label=f"Subscribe to {level.value}",
                        command=f"subscribe {level.value}",
                        style=Style.PRIMARY,
                    ),
                    Action(label=f"See {level.value}", command=level.value),
                ),
            )
        level = level.up()
    exclude = [p.slug for p in catalog.paths if all(s in state.covered for s in p.steps)]
    if sub.target_kind == "path":
        exclude.append(sub.target_key)
    suggestion = next_path(catalog, group_marks(state.marks), exclude=exclude)
    if suggestion is None:
        return "", ()
    return (
        f"Next, try {suggestion.path.title}: {suggestion.reason}",
        (
            Action(
                label=f"Subscribe to {suggestion.path.title}",
                command=f"subscribe {suggestion.path.slug}",
                style=Style.PRIMARY,
            ),
            Action(label="See the path", command=f"path {suggestion.path.slug}"),
        ),
    )


# -- discussion prompts ------------------------------------------------------------------------
#
# Our own words around the report's headings and lead phrases. Which heading a week uses
# turns with the step's index, so consecutive weeks do not all start from decision #1.

_ON_DECISION = (
    '{p} chose "{d}": what problem does that solve for it, and what does it cost?',
    '"{d}" in {p}: what would break, or get easier, had it gone the other way?',
    'Would "{d}", the way {p} does it, fit a system you work on? What would have to be true first?',
)
_ON_TAKEAWAY = (
    'The {p} report draws the lesson "{t}": where have you seen it hold, or fail, outside {p}?',
    '"{t}", says the {p} report: which of {p}\'s design choices shows it best?',
)
_ON_CONCEPT = (
    "Where does {c} show up in {p}'s design, and what would break without it?",
    "{p} relies on {c}: what does it gain from it, and what does it pay for it?",
)


def discussion_prompts(
    catalog: Catalog,
    project: Project,
    index: int,
    bases: Sequence[Project],
    last: Project | None,
    agendas: Mapping[str, ReadingAgenda],
) -> tuple[str, ...]:
    """Three questions about this week's project, each naming it.

    From its outline when there is one (a decision and a takeaway, rotating with the
    week), set against the earlier step it builds on; without one, from its concepts and
    what it builds on.
    """
    p = project.name
    own = agendas.get(project.slug) or ReadingAgenda()
    decisions, takeaways = own.decisions, own.takeaways
    prompts: list[str] = []
    if bases:
        prompts.append(_against_base(catalog, project, bases[0], index, agendas))
    if decisions:
        d = decisions[index % len(decisions)]
        prompts.append(_ON_DECISION[index % len(_ON_DECISION)].format(p=p, d=d))
    if takeaways:
        t = takeaways[index % len(takeaways)]
        prompts.append(_ON_TAKEAWAY[index % len(_ON_TAKEAWAY)].format(p=p, t=t))
    if len(decisions) > 1:  # a second decision, worded differently
        d = decisions[(index + 1) % len(decisions)]
        prompts.append(_ON_DECISION[(index + 1) % len(_ON_DECISION)].format(p=p, d=d))
    if last is not None and last.slug not in {b.slug for b in bases}:
        shared = [t for t in project.concepts if t in last.concepts]
        if shared:
            c = catalog.concept_label(shared[index % len(shared)])
            prompts.append(f"{p} and {last.name} both rely on {c}: how differently do they use it?")
    concepts = project.concepts
    for turn in range(len(_ON_CONCEPT)):
        c = catalog.concept_label(concepts[(index + turn) % len(concepts)])
        prompts.append(_ON_CONCEPT[(index + turn) % len(_ON_CONCEPT)].format(p=p, c=c))
    prompts.append(
        f"Which of {p}'s design choices would you bring to a system you work on, "
        "and which would you leave out?"
    )
    return tuple(dict.fromkeys(prompts))[:PROMPTS]


def _against_base(
    catalog: Catalog,
    project: Project,
    base: Project,
    index: int,
    agendas: Mapping[str, ReadingAgenda],
) -> str:
    """The week's project set against an earlier step it builds on."""
    p, b = project.name, base.name
    shared = [t for t in project.concepts if t in base.concepts]
    concept = catalog.concept_label(shared[index % len(shared)]) if shared else None
    mine = (agendas.get(project.slug) or ReadingAgenda()).decisions
    theirs = (agendas.get(base.slug) or ReadingAgenda()).decisions
    # a different decision from the one the next prompt quotes
    d = mine[(index + 1) % len(mine)] if mine else None
    if d and theirs:
        return (
            f"{p} builds on {b}: put {p}'s \"{d}\" next to {b}'s "
            f'"{theirs[index % len(theirs)]}". What did {p} keep, and what did it change?'
        )
    if d and concept:
        return (
            f'{p} borrows {b}\'s {concept}: read "{d}" and say what {p} kept from {b} '
            "and what it had to change."
        )
    if concept:
        return f"{p} borrows {b}'s {concept}: where does it follow {b}'s design, and where does it part ways?"
    return f"{p} builds on {b}: what does it take from {b} as it is, and what does it add?"


# -- numbers and names ---------------------------------------------------------------------------


def _recap(last: Project, state: GroupState) -> str:
    readers = [u for u, marks in state.marks.items() if _done(marks, last.slug)]
    if not readers:
        return f"Nobody has marked {last.name} done yet: there is still time."
    verb = "has" if len(readers) == 1 else "have"
    return f"{_names(readers, state)} {verb} marked it done."


def _readers(steps: Sequence[str], state: GroupState) -> str:
    if not state.marks:
        return "Press Done when you have read a report: the group's progress shows up here."
    active = [u for u, m in state.marks.items() if any(_done(m, s) for s in steps)]
    return f"{len(active)} of {_count(len(state.marks), 'member')} have read at least one step."


def _names(users: Sequence[str], state: GroupState) -> str:
    # Plain display names, never mentions: a recap must not ping anyone.
    names = sorted(state.names.get(u, u.rsplit(":", 1)[-1]) for u in users)
    if len(names) > 8:
        return ", ".join(names[:8]) + f" and {len(names) - 8} more"
    return _and(names)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
    "agenda_slugs",
    "compose_completion",
    "compose_digest",
    "plan",
    "resolve_target",
    "target_title",
    "upcoming",
]
