"""What the bot says: pure functions from catalog + marks to a :class:`Reply`.

No I/O here. The handlers in ``core.py`` fetch state, these functions decide the words,
and the adapters decide how the words look.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from roadmap_bot.chat.commands import Language, Usage
from roadmap_bot.chat.replies import (
    Action,
    Fact,
    Item,
    Link,
    Mark,
    Meter,
    Reply,
    ReplyKind,
    Section,
    Style,
    error,
)
from roadmap_bot.learning.catalog import Catalog, LearningPath, Level, PathStep, Project
from roadmap_bot.learning.recommend import Pick
from roadmap_bot.learning.search import Results
from roadmap_bot.learning.suggest import close_matches
from roadmap_bot.store import Mark as StoredMark
from roadmap_bot.store import Status

Marks = Mapping[str, StoredMark]

LEVEL_BLURBS: dict[Level, str] = {
    Level.BEGINNER: "One job done well, in a codebase you can read in a weekend.",
    Level.INTERMEDIATE: (
        "Several moving parts at once: storage and query engines, proxies, "
        "runtimes and orchestrators."
    ),
    Level.ADVANCED: (
        "Production distributed systems: consensus, replication, sharding and "
        "failure handling at scale."
    ),
}

DESIGN_ANCHOR = "#key-design-decisions"
TAKEAWAYS_ANCHOR = "#key-takeaways"

_ITEM_MARK = {
    Status.DONE: Mark.DONE,
    Status.READING: Mark.READING,
    Status.SKIPPED: Mark.SKIPPED,
}


def item_mark(marks: Marks, slug: str) -> Mark:
    mark = marks.get(slug)
    return _ITEM_MARK[mark.status] if mark else Mark.NONE


def report_links(project: Project) -> tuple[Link, ...]:
    """The report and the two sections the roadmap says to read closely."""
    return (
        Link(label="Architecture report", url=project.report_url),
        Link(label="Key Design Decisions", url=project.report_url + DESIGN_ANCHOR),
        Link(label="Key Takeaways", url=project.report_url + TAKEAWAYS_ANCHOR),
    )


def status_text(mark: StoredMark | None, whose: str = "Your") -> str:
    if mark is None:
        return "not read yet"
    day = _day(mark.at)
    return {
        Status.DONE: f"done on {day}",
        Status.READING: f"reading since {day}",
        Status.SKIPPED: f"skipped on {day}",
    }[mark.status]


def _day(at: datetime) -> str:
    return f"{at.day} {at:%b %Y}"


def step_text(step: PathStep) -> str:
    return f"step {step.step} of {step.total} in {step.path.title}"


# -- help ------------------------------------------------------------------------------------


def help_reply(language: Language, topic: str | None = None) -> Reply:
    if topic:
        usage = language.usage_of(topic.split()[0])
        if usage is None:
            guesses = close_matches(topic, [u.word for u in language.usages], limit=2)
            return error(
                f"There is no command called '{topic}'.",
                "Type 'help' to see every command.",
                tuple(f"help {g}" for g in guesses) or ("help",),
                command="help",
            )
        return Reply(
            kind=ReplyKind.HELP,
            title=f"/roadmap {usage.syntax}",
            text=_sentence(usage.summary) + ".",
            facts=(
                Fact(label="Example", value=f"/roadmap {usage.example}"),
                *((Fact(label="Also", value=", ".join(usage.also)),) if usage.also else ()),
            ),
            command=f"help {usage.word}",
        )
    return Reply(
        kind=ReplyKind.HELP,
        title="roadmap-bot: learn how great systems are built",
        text=(
            "Browse the learning roadmap of open-source architecture reports, track what "
            "you have read and get a pick for what to read next."
        ),
        items=tuple(_usage_item(u) for u in language.usages),
        items_heading="Commands",
        footer="Words are case-insensitive. 'help COMMAND' shows an example.",
        actions=(
            Action(label="Beginner projects", command="beginner", style=Style.PRIMARY),
            Action(label="Learning paths", command="paths"),
            Action(label="What next?", command="next"),
        ),
        command="help",
    )


def _usage_item(usage: Usage) -> Item:
    return Item(title=usage.syntax, detail=usage.summary)


# -- lists -----------------------------------------------------------------------------------


def project_item(catalog: Catalog, project: Project, marks: Marks, detail: str = "") -> Item:
    return Item(
        title=project.name,
        slug=project.slug,
        detail=f"{project.level_label} · {detail or project.summary}",
        mark=item_mark(marks, project.slug),
        url=project.report_url,
    )


@lru_cache(maxsize=8192)
def _list_item(slug: str, name: str, detail: str, url: str, mark: Mark) -> Item:
    # Items are immutable: a level list reuses them instead of rebuilding 35 per request.
    return Item(title=name, slug=slug, detail=detail, mark=mark, url=url)


def level_reply(catalog: Catalog, level: Level, marks: Marks, page: int | None) -> Reply:
    projects = catalog.level(level)
    done = sum(1 for p in projects if _is_done(marks, p.slug))
    items = tuple(
        _list_item(p.slug, p.name, p.summary, p.report_url, item_mark(marks, p.slug))
        for p in projects
    )
    return Reply(
        kind=ReplyKind.LEVEL,
        title=f"{level.value.capitalize()} projects ({len(projects)})",
        text=LEVEL_BLURBS[level],
        items=items,
        footer=f"You have read {done} of {len(projects)}. 'project NAME' opens a card.",
        command=level.value,
        page=page,
        shareable=True,
    )


def paths_reply(catalog: Catalog, marks: Marks) -> Reply:
    items = []
    for path in catalog.paths:
        done = sum(1 for s in path.steps if _is_done(marks, s))
        flow = " → ".join(catalog.project(s).name for s in path.steps)
        items.append(
            Item(
                title=path.title,
                slug=path.slug,
                detail=f"{path.blurb} {flow}. You: {done} of {len(path.steps)}.",
                mark=Mark.DONE if done == len(path.steps) else Mark.NONE,
            )
        )
    return Reply(
        kind=ReplyKind.PATHS,
        title=f"Learning paths ({len(catalog.paths)})",
        text="Themed sequences where each project builds on the one before.",
        items=tuple(items),
        footer="'path NAME' shows the steps and where you are.",
        command="paths",
        shareable=True,
    )


def path_reply(
    catalog: Catalog, path: LearningPath, marks: Marks, following: bool = False
) -> Reply:
    position = _open_step(path, marks)
    items = []
    for index, slug in enumerate(path.steps):
        project = catalog.project(slug)
        mark = item_mark(marks, slug)
        if index == position and mark is Mark.NONE:
            mark = Mark.CURRENT
        items.append(
            Item(
                title=project.name,
                slug=slug,
                detail=PathStep(path, index + 1).line or project.summary,
                prefix=f"{index + 1}.",
                mark=mark,
                url=project.report_url,
            )
        )
    done = sum(1 for s in path.steps if _is_done(marks, s))
    actions: list[Action] = []
    if position is None:
        where = f"You have finished all {len(path.steps)} steps."
    else:
        current = catalog.project(path.steps[position])
        where = (
            f"You are at step {position + 1} of {len(path.steps)}: {current.name}."
            if done or position
            else f"Not started yet: begin with {current.name}."
        )
        actions = [
            Action(
                label=f"Open {current.name}", command=f"project {current.slug}", style=Style.PRIMARY
            ),
            Action(label=f"Mark {current.name} done", command=f"done {current.slug}"),
        ]
    if following:
        actions.append(Action(label="Unfollow this path", command=f"unfollow {path.slug}"))
    else:
        actions.append(Action(label="Follow this path", command=f"follow {path.slug}"))
    return Reply(
        kind=ReplyKind.PATH,
        title=path.title,
        text=path.blurb,
        items=tuple(items),
        items_heading="Steps",
        facts=(Fact(label="Progress", value=f"{done} of {len(path.steps)} done"),),
        footer=where,
        actions=tuple(actions),
        command=f"path {path.slug}",
        shareable=True,
    )


def search_reply(
    catalog: Catalog, query: str, results: Results, marks: Marks, page: int | None
) -> Reply:
    if not results.hits:
        suggestions = tuple(f"search {s}" for s in results.suggestions)
        return error(
            f"Nothing matches '{query}'.",
            "Search looks at names, summaries, concepts, languages and categories. "
            "Try a concept such as 'raft' or 'event loop', a language or a category.",
            suggestions,
            command=f"search {query}",
        )
    items = []
    for hit in results.hits:
        project = hit.project
        where = ", ".join(hit.fields)
        detail = f"{project.level_label} · {project.summary} (matched: {where})"
        items.append(
            _list_item(
                project.slug,
                project.name,
                detail,
                project.report_url,
                item_mark(marks, project.slug),
            )
        )
    count = str(len(items))  # every match is in the list; platforms page it
    if results.concept:
        label = catalog.concept_label(results.concept)
        title = f"Projects that teach {label} ({count})"
    else:
        title = f"Search results for '{query}' ({count})"
    return Reply(
        kind=ReplyKind.SEARCH,
        title=title,
        items=tuple(items),
        footer="Best matches first. 'project NAME' opens a card.",
        command=f"search {query}",
        page=page,
        shareable=True,
    )


# -- a project -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CardParts:
    """The parts of a project card that are the same for everyone."""

    facts: tuple[Fact, ...]
    paths: Section | None
    related: tuple[tuple[Project, str], ...]  # (project, "shares ...")
    next_actions: tuple[Action, ...]
    links: tuple[Link, ...]


def _card_parts(catalog: Catalog, project: Project) -> _CardParts:
    steps = catalog.paths_of(project.slug)
    mine = set(project.concepts)
    next_actions = []
    for step in steps:
        if step.step < step.total:
            following = catalog.project(step.path.steps[step.step])
            label = "Next in path" if len(steps) == 1 else f"Next in {step.path.title}"
            next_actions.append(
                Action(label=f"{label}: {following.name}", command=f"project {following.slug}")
            )
    return _CardParts(
        facts=(
            Fact(label="Level", value=project.level_label),
            Fact(label="Language", value=project.language),
            Fact(label="Category", value=project.category),
            Fact(
                label="Concepts",
                value=", ".join(catalog.concept_label(t) for t in project.concepts),
            ),
        ),
        paths=Section(
            heading="Learning paths",
            items=tuple(Item(title=_sentence(step_text(s)), slug=s.path.slug) for s in steps),
        )
        if steps
        else None,
        related=tuple(
            (r, "shares " + ", ".join(catalog.concept_label(t) for t in r.concepts if t in mine))
            for r in catalog.related(project.slug, limit=4)
        ),
        next_actions=tuple(next_actions),
        links=(*report_links(project), Link(label="Repository", url=project.repository)),
    )


def project_reply(
    catalog: Catalog,
    project: Project,
    marks: Marks,
    kind: ReplyKind = ReplyKind.PROJECT,
    extra_actions: Sequence[Action] = (),
    outline: Sequence[str] = (),
) -> Reply:
    """The project card. ``outline`` is the report's design decision headings, if known."""
    parts: _CardParts = catalog.memo(("card", project.slug), lambda: _card_parts(catalog, project))
    mark = marks.get(project.slug)
    sections: list[Section] = [parts.paths] if parts.paths else []
    if parts.related:
        sections.append(
            Section(
                heading="Related projects",
                items=tuple(
                    _list_item(r.slug, r.name, shares, r.report_url, item_mark(marks, r.slug))
                    for r, shares in parts.related
                ),
            )
        )
    if outline:
        sections.append(
            Section(
                heading="Design decisions to look for",
                text=f"The takeaways and every section: report {project.slug}",
                items=tuple(Item(title=h, prefix=f"{i}.") for i, h in enumerate(outline, 1)),
            )
        )
    if mark is not None and mark.status is Status.DONE:
        toggle = Action(label="Undo", command=f"undo {project.slug}", style=Style.DANGER)
    else:
        toggle = Action(label="Mark done", command=f"done {project.slug}", style=Style.PRIMARY)
    return Reply(
        kind=kind,
        title=project.name,
        text=project.summary,
        facts=(*parts.facts, Fact(label="Your status", value=status_text(mark))),
        sections=tuple(sections),
        links=parts.links,
        actions=(
            toggle,
            *parts.next_actions,
            *extra_actions,
            Action(label="Open report", url=project.report_url),
        ),
        command=f"project {project.slug}",
        shareable=True,
    )


def next_reply(catalog: Catalog, pick: Pick | None, marks: Marks) -> Reply:
    if pick is None:
        return Reply(
            kind=ReplyKind.NEXT,
            title="You have read every report on the roadmap.",
            text="Impressive. 'progress' shows the whole journey; 'random' picks one to revisit.",
            command="next",
        )
    project = pick.project
    return Reply(
        kind=ReplyKind.NEXT,
        title=f"Read next: {project.name}",
        text=pick.reason,
        facts=(
            Fact(label="Level", value=project.level_label),
            Fact(label="Language", value=project.language),
            Fact(label="Category", value=project.category),
        ),
        items=(project_item(catalog, project, marks),),
        sections=(
            (Section(heading=f"What step {pick.step.step} adds", text=pick.step.line),)
            if pick.step is not None and pick.step.line
            else ()
        ),
        links=report_links(project),
        actions=(
            Action(label="Open report", url=project.report_url, style=Style.PRIMARY),
            Action(label="Project card", command=f"project {project.slug}"),
            Action(label="Mark done", command=f"done {project.slug}"),
        ),
        command="next",
        shareable=True,
    )


_MARKED_TITLES = {
    Status.DONE: "Marked {name} as done. Nice work!",
    Status.READING: "Marked {name} as reading. 'done {slug}' when you finish.",
    Status.SKIPPED: "Skipped {name} for you: it will not be recommended again.",
}


def marked_reply(project: Project, previous: StoredMark | None, status: Status | None) -> Reply:
    """The answer to 'done', 'reading', 'pass' (``status``) and 'undo' (None)."""
    slug = project.slug
    undo = Action(label="Undo", command=f"undo {slug}", style=Style.DANGER)
    if status is not None:
        if previous is not None and previous.status is status:
            title = f"{project.name} was already marked: {status_text(previous)}."
        else:
            title = _MARKED_TITLES[status].format(name=project.name, slug=slug)
        actions = [Action(label="What next?", command="next", style=Style.PRIMARY), undo]
        if status is Status.READING:
            actions.insert(0, Action(label="Done", command=f"done {slug}", style=Style.PRIMARY))
        kind = ReplyKind.DONE if status is Status.DONE else ReplyKind.NOTICE
        word = {Status.DONE: "done", Status.READING: "reading", Status.SKIPPED: "pass"}[status]
        return Reply(kind=kind, title=title, actions=tuple(actions), command=f"{word} {slug}")
    if previous is None:
        return Reply(
            kind=ReplyKind.UNDO,
            title=f"{project.name} had no mark, so there was nothing to undo.",
            actions=(Action(label="Mark done", command=f"done {slug}"),),
            command=f"undo {slug}",
        )
    return Reply(
        kind=ReplyKind.UNDO,
        title=f"Removed your '{previous.status.value}' mark on {project.name}.",
        actions=(Action(label="Mark done", command=f"done {slug}"),),
        command=f"undo {slug}",
    )


def progress_reply(
    catalog: Catalog,
    name: str,
    marks: Marks,
    is_self: bool,
    pick: Pick | None = None,
) -> Reply:
    levels = tuple(
        Meter(
            label=level.value.capitalize(),
            done=sum(1 for p in catalog.level(level) if _is_done(marks, p.slug)),
            total=len(catalog.level(level)),
        )
        for level in Level
    )
    paths = tuple(
        Meter(
            label=path.title,
            done=sum(1 for s in path.steps if _is_done(marks, s)),
            total=len(path.steps),
        )
        for path in catalog.paths
    )
    done = [(m.at, s) for s, m in marks.items() if m.status is Status.DONE and catalog.get(s)]
    reading = [(m.at, s) for s, m in marks.items() if m.status is Status.READING and catalog.get(s)]
    sections = [
        Section(heading="By level", meters=levels),
        Section(heading="By learning path", meters=paths),
    ]
    if reading:
        sections.append(
            Section(
                heading="Reading now",
                items=tuple(
                    project_item(catalog, catalog.project(s), marks, status_text(marks[s]))
                    for _, s in sorted(reading, reverse=True)
                ),
            )
        )
    if done:
        recent = sorted(done, reverse=True)[:5]
        sections.append(
            Section(
                heading="Recently done",
                items=tuple(
                    project_item(catalog, catalog.project(s), marks, status_text(marks[s]))
                    for _, s in recent
                ),
            )
        )
    whose = "Your" if is_self else f"{name}'s"
    total = len(catalog.projects)
    text = f"{len(done)} of {total} reports read."
    if pick is not None:
        text += f" Next up: {pick.project.name}. {pick.reason}"
    return Reply(
        kind=ReplyKind.PROGRESS,
        title=f"{whose} progress",
        text=text,
        sections=tuple(sections),
        actions=(Action(label="What next?", command="next", style=Style.PRIMARY),)
        if is_self
        else (),
        command="progress",
        shareable=True,
    )


# -- not found -------------------------------------------------------------------------------


def unknown_project(catalog: Catalog, verb: str, name: str, extra: Sequence[str] = ()) -> Reply:
    """'I don't know X' with the closest names as suggestions."""
    guesses = close_matches(name, catalog.project_keys, limit=3)
    slugs = list(dict.fromkeys(p.slug for g in guesses if (p := catalog.find_project(g))))
    suggestions = [*extra, *(f"{verb} {s}" for s in slugs)]
    paths = close_matches(name, catalog.path_keys, limit=1, cutoff=80)
    suggestions += [f"path {lp.slug}" for g in paths if (lp := catalog.find_path(g))]
    suggestions.append(f"search {name}")
    return error(
        f"I don't know a project called '{name}'.",
        "Did you mean one of these?" if len(suggestions) > 1 else "Try a search instead.",
        tuple(dict.fromkeys(suggestions)),
        command=f"{verb} {name}",
    )


def unknown_path(catalog: Catalog, name: str, verb: str = "path") -> Reply:
    guesses = close_matches(name, catalog.path_keys, limit=2, cutoff=60)
    slugs = list(dict.fromkeys(p.slug for g in guesses if (p := catalog.find_path(g))))
    titles = ", ".join(p.slug for p in catalog.paths)
    return error(
        f"There is no learning path called '{name}'.",
        f"The paths are: {titles}.",
        tuple(f"{verb} {s}" for s in slugs) or ("paths",),
        command=f"{verb} {name}",
    )


def follow_reply(catalog: Catalog, path: LearningPath, marks: Marks, already: bool) -> Reply:
    """After 'follow PATH': where 'next' will take up the path."""
    index = _open_step(path, marks)
    title = f"You already follow {path.title}." if already else f"You follow {path.title}."
    if index is None:
        text = (
            f"You have read or passed all {len(path.steps)} steps; 'next' goes on with "
            "another path you follow, or your level."
        )
    else:
        current = catalog.project(path.steps[index])
        text = (
            f"'next' continues it at step {index + 1} of {len(path.steps)}: {current.name}, "
            "whatever its level."
        )
    return Reply(
        kind=ReplyKind.NOTICE,
        title=title,
        text=text,
        actions=(
            Action(label="What next?", command="next", style=Style.PRIMARY),
            Action(label="Unfollow", command=f"unfollow {path.slug}"),
        ),
        command=f"follow {path.slug}",
    )


def unfollow_reply(path: LearningPath) -> Reply:
    return Reply(
        kind=ReplyKind.NOTICE,
        title=f"You no longer follow {path.title}.",
        text="Your marks stay. 'next' picks from your level again (or another path you follow).",
        actions=(
            Action(label="What next?", command="next", style=Style.PRIMARY),
            Action(label="Follow again", command=f"follow {path.slug}"),
        ),
        command=f"unfollow {path.slug}",
    )


def not_following_reply(path: LearningPath, follows: Sequence[LearningPath]) -> Reply:
    mine = ", ".join(p.title for p in follows)
    return error(
        f"You do not follow {path.title}.",
        f"You follow: {mine}." if mine else "You follow no path. 'paths' lists them.",
        tuple(f"unfollow {p.slug}" for p in follows) or ("paths",),
        command=f"unfollow {path.slug}",
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _is_done(marks: Marks, slug: str) -> bool:
    mark = marks.get(slug)
    return mark is not None and mark.status is Status.DONE


def _open_step(path: LearningPath, marks: Marks) -> int | None:
    """The index of the first step neither read nor passed: where the reader is."""
    return next((i for i, s in enumerate(path.steps) if not _is_closed(marks, s)), None)


def _is_closed(marks: Marks, slug: str) -> bool:
    """Done or skipped: the path moves past it."""
    mark = marks.get(slug)
    return mark is not None and mark.status in (Status.DONE, Status.SKIPPED)
