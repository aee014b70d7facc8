"""What the weekly posts say, week after week, through the deliverer and the preview.

Five weeks of a path and of a level: prompts drawn from each week's own outline, never
repeated, set against what the project builds on; "why this one"; the level's order;
numbers with two readers among four members and with a skip; the completion post.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest

from fakes.sleeps import Sleeps
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.chat.replies import Reply, Section
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.digest import GroupState, ReadingAgenda, compose_completion, plan
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.learning.catalog import Catalog, Level, PathStep
from roadmap_bot.store.digests import Subscription
from roadmap_bot.store.sql import SqlStore

from .conftest import RecordingPoster, member

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the Monday after NOW, 09:00 UTC
QUOTED = re.compile(r'"([^"]+)"')
NO_OUTLINE = {"grafana", "coredns"}  # their reports "did not arrive": prompts without one


def outline(catalog: Catalog, slug: str) -> ReadingAgenda:
    """A made-up outline whose headings say whose report they come from (by a code, not
    the project's name, so a prompt that names the project does not pass by accident)."""
    code = f"R{catalog.order(slug)}"
    return ReadingAgenda(
        decisions=tuple(f"{code} decision {k}" for k in range(1, 6)),
        takeaways=tuple(f"{code} lesson {k}" for k in range(1, 4)),
        anchors=tuple(f"{k}-{code.lower()}-decision-{k}" for k in range(1, 6)),
    )


@pytest.fixture
def asked() -> list[str]:
    return []


@pytest.fixture
def teaching(
    roadmap: Roadmap,
    store: SqlStore,
    clock: FixedClock,
    poster: RecordingPoster,
    sleeps: Sleeps,
    asked: list[str],
) -> Deliverer:
    """A deliverer whose reports come from :func:`outline` (none for NO_OUTLINE)."""

    async def agenda(slug: str, timeout: float) -> ReadingAgenda | None:
        asked.append(slug)
        return None if slug in NO_OUTLINE else outline(roadmap.catalog, slug)

    deliverer = Deliverer(
        roadmap.catalog, store, clock, {"console": poster}, sleep=sleeps, agenda=agenda
    )
    StudyGroups(roadmap, deliverer, default_zone="UTC")
    return deliverer


def section(reply: Reply, heading: str) -> Section:
    return next(s for s in reply.sections if s.heading == heading)


def prompts_of(reply: Reply) -> list[str]:
    return [i.title for i in section(reply, "To discuss").items]


async def run_weeks(deliverer: Deliverer, weeks: int, start: int = 0) -> None:
    for week in range(start, start + weeks):
        await deliverer.run_due(FIRST_DUE + timedelta(days=7 * week))


# -- five weeks of a path ------------------------------------------------------------------------


async def test_five_weeks_of_a_path_teach_from_each_weeks_own_report(
    roadmap: Roadmap, teaching: Deliverer, poster: RecordingPoster, catalog: Catalog
) -> None:
    assert (await roadmap.ask("subscribe observability-stack", member("ann"))).ok
    steps = list(catalog.path("observability-stack").steps)
    previews = []
    for week in range(5):
        previews.append(await roadmap.ask("digest", member("bob")))
        await run_weeks(teaching, 1, start=week)
    posts = [p.message for p in poster.posts]
    assert [p.title for p in posts] == [
        f"Project of the week: {catalog.project(s).name}" for s in steps
    ]
    every: list[str] = []
    own_decisions_used: set[str] = set()
    for index, (slug, post, preview) in enumerate(zip(steps, posts, previews, strict=True)):
        project = catalog.project(slug)
        prompts = prompts_of(post)
        assert prompts == prompts_of(preview)  # the preview shows what will be posted
        assert len(prompts) == 3 and len(set(prompts)) == 3
        assert all(project.name in p for p in prompts)
        quoted = [q for p in prompts for q in QUOTED.findall(p)]
        own = outline(catalog, slug)
        bases = catalog.foundations(slug, among=steps[:index])
        foreign_ok = {h for b in bases for h in outline(catalog, b.slug).decisions}
        if slug in NO_OUTLINE:
            assert not quoted  # nothing to quote: concepts and what it builds on
            assert any(catalog.concept_label(t) in " ".join(prompts) for t in project.concepts)
        else:
            from_own = [q for q in quoted if q in own.decisions or q in own.takeaways]
            assert len(from_own) >= 2, prompts
            assert set(quoted) <= set(from_own) | foreign_ok, prompts
            assert any(q in own.takeaways for q in quoted)
            own_decisions_used.update(q for q in quoted if q in own.decisions)
            # the reading list links each decision to its section of the report
            read = section(post, "What to read")
            assert [i.title for i in read.items] == list(own.decisions)
            assert read.items[2].url == f"{project.report_url}#{own.anchors[2]}"
        for base in bases:  # set against the earlier step it builds on
            assert any(p.startswith(f"{project.name} b") and base.name in p for p in prompts)
        every += prompts
    assert len(every) == len(set(every)) == 15  # no prompt repeats within the subscription
    # the weeks rotate over the decisions: not always the first
    assert {q.rsplit(" ", 1)[-1] for q in own_decisions_used} - {"1"}


async def test_loki_is_set_against_prometheus_and_says_why(
    roadmap: Roadmap, teaching: Deliverer, poster: RecordingPoster, catalog: Catalog
) -> None:
    await roadmap.ask("subscribe observability-stack", member("ann"))
    await run_weeks(teaching, 3)
    loki = poster.posts[2].message
    name = catalog.project("loki").name
    assert loki.title == f"Project of the week: {name}"
    why = section(loki, "Why this one").text
    path = catalog.path("observability-stack")
    line = PathStep(path, 3).line
    assert line and why.startswith(f"Step 3 of 5 in Observability Stack. {line}")
    assert "It builds on Prometheus (step 1)." in why
    assert "a new angle" not in why
    first = prompts_of(loki)[0]
    prometheus = outline(catalog, "prometheus").decisions
    quoted = QUOTED.findall(first)
    assert first.startswith(f"{name} builds on Prometheus")
    assert quoted[0] in outline(catalog, "loki").decisions and quoted[1] in prometheus
    # Thanos too builds on Prometheus, two steps further: a different Prometheus heading
    await run_weeks(teaching, 2, start=3)
    thanos = prompts_of(poster.posts[4].message)[0]
    assert thanos.startswith(f"{catalog.project('thanos').name} builds on Prometheus")
    assert QUOTED.findall(thanos)[1] != quoted[1]


async def test_the_digest_fetches_the_outlines_it_quotes_and_no_others(
    roadmap: Roadmap, teaching: Deliverer, asked: list[str]
) -> None:
    await roadmap.ask("subscribe observability-stack", member("ann"))
    await run_weeks(teaching, 3)
    # week 3 is Loki: its own and Prometheus's (it builds on it), not last week's Grafana
    assert asked[-2:] == ["loki", "prometheus"]
    assert asked.count("grafana") == 1


async def test_a_run_asks_for_each_outline_once_however_many_channels_quote_it(
    roadmap: Roadmap, teaching: Deliverer, poster: RecordingPoster, asked: list[str]
) -> None:
    channels = [f"console:group{i}" for i in range(6)]
    for channel in channels:
        assert (await roadmap.ask("subscribe observability-stack", member("ann", channel))).ok
    await run_weeks(teaching, 1)
    assert sorted(p.channel for p in poster.posts) == channels
    first = {prompts_of(p.message)[1] for p in poster.posts}  # each quotes the outline
    assert len(first) == 1 and QUOTED.findall(first.pop())
    assert asked == ["prometheus"]  # once for the six digests of the run
    # a new run asks again (the report may be newer): Grafana's, and Prometheus's it builds on
    await run_weeks(teaching, 1, start=1)
    assert asked == ["prometheus", "grafana", "prometheus"]


# -- five weeks of a level ------------------------------------------------------------------------


def test_a_level_walk_puts_what_a_project_builds_on_first(catalog: Catalog) -> None:
    for level in Level:
        steps = plan(catalog, f"level:{level.value}")
        assert sorted(steps) == sorted(p.slug for p in catalog.level(level))
        for index, slug in enumerate(steps):
            for base in catalog.project(slug).builds_on:
                if base in steps:
                    assert steps.index(base) < index, (slug, base)
    beginner = plan(catalog, "level:beginner")
    assert beginner.index("coredns") == beginner.index("caddy") + 1  # right after it
    intermediate = plan(catalog, "level:intermediate")
    assert intermediate.index("prometheus") < intermediate.index("grafana")
    # the roadmap's first project that builds on nothing opens the walk
    assert beginner[0] == catalog.level(Level.BEGINNER)[0].slug


async def test_five_weeks_of_a_level(
    roadmap: Roadmap, teaching: Deliverer, poster: RecordingPoster, catalog: Catalog
) -> None:
    await roadmap.ask("subscribe beginner", member("ann"))
    steps = plan(catalog, "level:beginner")
    weeks = steps.index("coredns") + 1
    assert weeks >= 5
    await run_weeks(teaching, weeks)
    posts = [p.message for p in poster.posts]
    assert [p.title for p in posts] == [
        f"Project of the week: {catalog.project(s).name}" for s in steps[:weeks]
    ]
    every = [p for post in posts for p in prompts_of(post)]
    assert len(every) == len(set(every)) == 3 * weeks
    for slug, post in zip(steps, posts, strict=False):
        own = outline(catalog, slug)
        quoted = {q for p in prompts_of(post) for q in QUOTED.findall(p)}
        if slug not in NO_OUTLINE:
            assert len(quoted & {*own.decisions, *own.takeaways}) >= 2
    coredns = posts[-1]
    assert "It builds on Caddy (step" in section(coredns, "Why this one").text
    # CoreDNS's report "did not arrive": its prompts come from its concepts and Caddy
    first = prompts_of(coredns)[0]
    assert first.startswith("CoreDNS b") and "Caddy" in first


# -- numbers ------------------------------------------------------------------------------------


async def test_counts_are_of_distinct_members_and_reports_with_a_skip(
    roadmap: Roadmap, teaching: Deliverer, poster: RecordingPoster, catalog: Catalog
) -> None:
    ann, bob, cat, dan = (member(n) for n in ("ann", "bob", "cat", "dan"))
    await roadmap.ask("subscribe web-development", ann)
    await roadmap.ask("progress", dan)  # four members; only bob and cat will read
    assert (await roadmap.ask("skip", ann)).title == "Skipped React."
    await run_weeks(teaching, 1)
    nextjs = poster.posts[0].message
    assert nextjs.title == "Project of the week: Next.js"
    assert {f.label: f.value for f in nextjs.facts}["Step"] == "2 of 4 in Web Development"
    why = section(nextjs, "Why this one").text
    assert "first step" not in why.casefold()
    assert "It builds on React (step 1, skipped)." in why
    assert "The group skipped step 1 (React)." in why
    meter = section(nextjs, "The group so far").meters[0]
    assert (meter.done, meter.total) == (0, 3)  # a skipped step is not progress
    for who in (bob, cat):
        await roadmap.ask("done react", who)
        await roadmap.ask("done nextjs", who)
    await run_weeks(teaching, 3, start=1)
    vite, svelte, completion = (p.message for p in poster.posts[1:])
    assert section(vite, "Last week: Next.js").text == "bob and cat have marked it done."
    so_far = section(vite, "The group so far")
    assert (so_far.meters[0].done, so_far.meters[0].total) == (1, 3)
    assert so_far.text == "2 of 4 members have read at least one step. 1 step skipped."
    assert {f.label: f.value for f in svelte.facts}["Step"] == "4 of 4 in Web Development"
    assert completion.title == "Web Development: complete!"
    facts = {f.label: f.value for f in completion.facts}
    assert facts["Weeks"] == "3 posted, 1 skipped"
    assert facts["Reports read"] == "2 of 4 reports, by 2 members"
    assert facts["Read every posted step"] == "nobody yet"  # nobody read Vite and Svelte


async def test_the_completion_post_recommends_the_next_path_or_level(
    roadmap: Roadmap, teaching: Deliverer, poster: RecordingPoster, catalog: Catalog
) -> None:
    await roadmap.ask("subscribe web-development", member("ann"))
    await run_weeks(teaching, 5)
    completion = poster.posts[-1].message
    subscribe = [a.command for a in completion.actions if (a.command or "").startswith("subscribe")]
    assert len(subscribe) == 1 and subscribe[0] != "subscribe web-development"
    path = catalog.find_path(subscribe[0].removeprefix("subscribe "))
    assert path is not None and f"Next, try {path.title}" in completion.text

    now = FIRST_DUE
    for level, up in ((Level.BEGINNER, "intermediate"), (Level.INTERMEDIATE, "advanced")):
        steps = plan(catalog, f"level:{level.value}")
        sub = Subscription(
            1, "console:x", f"level:{level.value}", Schedule(0, time(9), "UTC"), "u", now, now
        )
        state = GroupState(dict.fromkeys(steps, "posted"), steps, {}, {})
        post = compose_completion(catalog, sub, state).message
        first = catalog.project(plan(catalog, f"level:{up}")[0]).name
        assert f"Next, the {up} level" in post.text and first in post.text
        assert post.actions[0].command == f"subscribe {up}"
    steps = plan(catalog, "level:advanced")
    sub = Subscription(1, "console:x", "level:advanced", Schedule(0, time(9), "UTC"), "u", now, now)
    post = compose_completion(
        catalog, sub, GroupState(dict.fromkeys(steps, "posted"), steps, {}, {})
    ).message
    assert "Next, try " in post.text  # no level above: a path
    assert (post.actions[0].command or "").startswith("subscribe ")


def test_the_completion_post_never_recommends_what_the_channel_went_through(
    catalog: Catalog,
) -> None:
    now = FIRST_DUE
    beginner = plan(catalog, "level:beginner")
    intermediate = plan(catalog, "level:intermediate")
    covered = dict.fromkeys([*beginner, *intermediate], "posted")
    sub = Subscription(1, "console:x", "level:beginner", Schedule(0, time(9), "UTC"), "u", now, now)
    post = compose_completion(catalog, sub, GroupState(covered, list(covered), {}, {})).message
    assert post.actions[0].command == "subscribe advanced"
    left = len(plan(catalog, "level:advanced"))
    assert f"Next, the advanced level: {left} projects" in post.text
    # after a path: neither that path nor one the channel has been through before
    first = catalog.paths[0]
    recommended = set()
    for path in catalog.paths[1:]:
        covered = dict.fromkeys([*first.steps, *path.steps], "posted")
        sub = Subscription(
            1, "console:x", f"path:{path.slug}", Schedule(0, time(9), "UTC"), "u", now, now
        )
        post = compose_completion(catalog, sub, GroupState(covered, list(covered), {}, {}))
        command = post.message.actions[0].command or ""
        assert command.startswith("subscribe ")
        assert command not in (f"subscribe {path.slug}", f"subscribe {first.slug}")
        recommended.add(command)
    assert recommended
