"""`next` for four personas, through the core with the real store, and a property test.

Each persona asks `next` and marks the pick `done`, 15 times; every answer is checked
against the rules (working level, nearest level, followed path, builds_on before shared
concepts before the roadmap's order) recomputed here from the persona's own record, and
every reason is checked against the catalog: a project it names was read by this person
and carries each concept the reason credits to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import Reply
from roadmap_bot.learning.catalog import Catalog, Level, Project, load_catalog
from roadmap_bot.learning.recommend import next_for_person
from roadmap_bot.store import Mark, Status

STEPS = 15
CATALOG = load_catalog()  # module level: hypothesis strategies need it before fixtures


@dataclass
class Record:
    """What the test itself knows about a persona: the reason checks use only this."""

    done: set[str] = field(default_factory=set)
    passed: set[str] = field(default_factory=set)
    follows: list[str] = field(default_factory=list)  # latest followed first


# -- the rules, recomputed from the persona's record ------------------------------------------


def working_level(catalog: Catalog, done: set[str]) -> Level:
    level = Level.BEGINNER
    for lv in Level:
        members = catalog.level(lv)
        if members and sum(p.slug in done for p in members) * 2 > len(members):
            level = lv.up() or lv
    return level


def expected_pick(catalog: Catalog, record: Record) -> Project | None:
    closed = record.done | record.passed
    for slug in record.follows:
        for step in catalog.path(slug).steps:
            if step not in closed:
                return catalog.project(step)
    working = working_level(catalog, record.done)
    order = sorted(Level, key=lambda lv: (abs(lv.rank - working.rank), lv.rank))
    pools = [catalog.level(lv) for lv in order]
    pools.append([p for p in catalog.projects if p.level is None])
    read_tags = {t for s in record.done for t in catalog.project(s).concepts}
    for pool in pools:
        candidates = [p for p in pool if p.slug not in closed]
        if candidates:
            return min(
                candidates,
                key=lambda p: (
                    not any(f in record.done for f in p.builds_on),
                    -len(read_tags.intersection(p.concepts)),
                    catalog.order(p.slug),
                ),
            )
    return None


# -- what a reason may claim ------------------------------------------------------------------

_QUOTED = re.compile(r"'[^']*'")


def _label_tags(catalog: Catalog, text: str) -> tuple[str, ...] | None:
    """The concept tags whose labels, joined by ' and ', read exactly ``text``."""
    tags = list(catalog.concepts)
    for count in (1, 2):
        for combo in combinations(tags, count):
            for ordered in {combo, combo[::-1]}:
                labels = [catalog.concept_label(t) for t in ordered]
                if text in (" and ".join(labels), " as well as ".join(labels)):
                    return ordered
    return None


def check_reason(catalog: Catalog, record: Record, pick: Project, reason: str) -> None:
    """Every claim of the reason holds for this person and this catalog."""
    # Every project the reason names (outside quoted commands) was read by the person.
    prose = _QUOTED.sub("", reason)
    for project in catalog.projects:
        if re.search(rf"(?<![\w-]){re.escape(project.name)}(?![\w-])", prose):
            assert project.slug in record.done, f"names {project.name}, not read: {reason}"
    if built := re.search(r"It builds on (.+?), which you read\.", reason):
        for name in re.split(r", | and ", built.group(1)):
            found = catalog.find_project(name)
            assert found is not None and found.slug in pick.builds_on, reason
            assert found.slug in record.done, reason
    if shares := re.search(r"It shares (.+?) with (.+?), which you read\.", reason):
        other = catalog.find_project(shares.group(2))
        assert other is not None and other.slug in record.done, reason
        tags = _label_tags(catalog, shares.group(1))
        assert tags, f"credits concepts that are not in the vocabulary: {reason}"
        for tag in tags:
            assert tag in pick.concepts and tag in other.concepts, reason
    if level := re.search(r"level is (\w+)(?: \(you read (\d+) of (\d+) at (\w+)\))?: ", reason):
        assert Level(level.group(1)) is working_level(catalog, record.done), reason
        if level.group(4):
            below = catalog.level(Level(level.group(4)))
            assert int(level.group(2)) == sum(p.slug in record.done for p in below), reason
            assert int(level.group(3)) == len(below), reason
    if count := re.search(r"(\w+): (\d+) of (\d+) read\.", reason):
        members = catalog.level(Level(count.group(1)))
        assert pick.level is Level(count.group(1)), reason
        assert int(count.group(2)) == sum(p.slug in record.done for p in members), reason
        assert int(count.group(3)) == len(members), reason
    if step := re.search(r"Step (\d+) of (\d+) in (.+?), which you follow\.", reason):
        path = catalog.find_path(step.group(3))
        assert path is not None and path.slug in record.follows, reason
        assert path.steps[int(step.group(1)) - 1] == pick.slug, reason
        assert int(step.group(2)) == len(path.steps), reason
    else:
        assert "follow" not in reason, reason  # no path claimed unless followed


# -- the personas, through the core -----------------------------------------------------------


async def walk(
    roadmap: Roadmap, who: Asker, record: Record, steps: int = STEPS
) -> list[tuple[Project, Reply]]:
    """`next` then `done` on the pick, ``steps`` times, checking every answer."""
    catalog = roadmap.catalog
    picks = []
    for _ in range(steps):
        reply = await roadmap.ask("next", who)
        assert reply.ok
        expected = expected_pick(catalog, record)
        assert expected is not None
        assert reply.title == f"Read next: {expected.name}", reply.text
        assert expected.slug not in record.done | record.passed
        assert (await roadmap.ask("next", who)) == reply  # deterministic
        check_reason(catalog, record, expected, reply.text)
        picks.append((expected, reply))
        assert (await roadmap.ask(f"done {expected.slug}", who)).ok
        record.done.add(expected.slug)
    return picks


async def mark_done(roadmap: Roadmap, who: Asker, record: Record, slugs: list[str]) -> None:
    for slug in slugs:
        assert (await roadmap.ask(f"done {slug}", who)).ok
        record.done.add(slug)


async def test_a_beginner_from_nothing(roadmap: Roadmap, alice: Asker) -> None:
    record = Record()
    picks = await walk(roadmap, alice, record)
    levels = [p.level for p, _ in picks]
    # more than half of beginner (6 of 11) moves the working level up, never to advanced
    assert levels[:6] == [Level.BEGINNER] * 6
    assert levels[6:] == [Level.INTERMEDIATE] * 9
    assert picks[0][1].text == (
        "Your level is beginner: 0 of 11 read. "
        "It comes first in the roadmap's order among those left."
    )
    assert picks[6][1].text.startswith(
        "Your level is intermediate (you read 6 of 11 at beginner): 0 of 35 read."
    )
    # CoreDNS forked Caddy: once Caddy is read it comes before any other beginner
    slugs = [p.slug for p, _ in picks]
    if "caddy" in slugs[:5] and "coredns" in slugs:
        assert slugs.index("coredns") == slugs.index("caddy") + 1


async def test_every_beginner_project_done(roadmap: Roadmap, alice: Asker) -> None:
    record = Record()
    await mark_done(roadmap, alice, record, [p.slug for p in roadmap.catalog.level(Level.BEGINNER)])
    picks = await walk(roadmap, alice, record)
    assert {p.level for p, _ in picks} == {Level.INTERMEDIATE}
    assert picks[0][1].text.startswith(
        "Your level is intermediate (you read 11 of 11 at beginner): 0 of 35 read."
    )
    slugs = [p.slug for p, _ in picks]
    if "prometheus" in slugs:  # Grafana builds on Prometheus: it follows at once
        assert slugs[slugs.index("prometheus") + 1] == "grafana"


async def test_someone_following_container_ecosystem(roadmap: Roadmap, alice: Asker) -> None:
    record = Record()
    reply = await roadmap.ask("follow container-ecosystem", alice)
    assert reply.ok
    record.follows.insert(0, "container-ecosystem")
    picks = await walk(roadmap, alice, record)
    steps = roadmap.catalog.path("container-ecosystem").steps
    assert [p.slug for p, _ in picks[:6]] == list(steps)  # whatever each one's level
    for number, (_, answer) in enumerate(picks[:6], start=1):
        assert answer.text.startswith(f"Step {number} of 6 in Container Ecosystem, which you")
        assert answer.sections[0].heading == f"What step {number} adds"
    assert "builds on containerd" in picks[2][1].text  # Moby wraps containerd
    # the path is finished: back to the working level, with no path claimed
    assert all("Container Ecosystem" not in answer.text for _, answer in picks[6:])
    levels = [p.level for p, _ in picks[6:]]
    assert levels == [Level.BEGINNER] * 6 + [Level.INTERMEDIATE] * 3


async def test_thirty_advanced_projects_done(roadmap: Roadmap, alice: Asker) -> None:
    record = Record()
    advanced = [p.slug for p in roadmap.catalog.level(Level.ADVANCED)]
    await mark_done(roadmap, alice, record, advanced[:30])
    picks = await walk(roadmap, alice, record)
    levels = [p.level for p, _ in picks]
    assert levels[:8] == [Level.ADVANCED] * 8  # the 8 other advanced before any beginner
    assert set(levels[8:]) == {Level.INTERMEDIATE}  # then the nearest level, lower first
    assert picks[8][1].text.startswith(
        "At advanced, your level, nothing is left unread; "
        "the nearest level with some is intermediate: 0 of 35 read."
    )


async def test_a_report_being_read_is_named_and_passed_ones_never_come(
    roadmap: Roadmap, alice: Asker
) -> None:
    await roadmap.ask("reading kafka", alice)
    reply = await roadmap.ask("next", alice)
    assert reply.title == "Read next: Apache Kafka"
    assert reply.text.startswith("You marked it as reading on ")
    await roadmap.ask("done kafka", alice)
    await roadmap.ask("pass fzf", alice)
    record = Record(done={"kafka"}, passed={"fzf"})
    picks = await walk(roadmap, alice, record, steps=5)
    assert "fzf" not in [p.slug for p, _ in picks]


# -- the property: any state, any reason ------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SLUGS = [p.slug for p in CATALOG.projects]
PATHS = [p.slug for p in CATALOG.paths]


@st.composite
def states(draw: st.DrawFn) -> tuple[dict[str, Mark], Record]:
    statuses = draw(
        st.lists(
            st.sampled_from([None, None, None, Status.DONE, Status.DONE, Status.SKIPPED]),
            min_size=len(SLUGS),
            max_size=len(SLUGS),
        )
    )
    marks = {
        slug: Mark(status, T0 + timedelta(days=i))
        for i, (slug, status) in enumerate(zip(SLUGS, statuses, strict=True))
        if status is not None
    }
    follows = draw(st.lists(st.sampled_from(PATHS), unique=True, max_size=3))
    record = Record(
        done={s for s, m in marks.items() if m.status is Status.DONE},
        passed={s for s, m in marks.items() if m.status is Status.SKIPPED},
        follows=follows,
    )
    return marks, record


@settings(max_examples=300, deadline=None)
@given(states())
def test_every_reason_is_true_for_any_state(state: tuple[dict[str, Mark], Record]) -> None:
    marks, record = state
    pick = next_for_person(CATALOG, marks, record.follows)
    expected = expected_pick(CATALOG, record)
    if expected is None:
        assert pick is None
        return
    assert pick is not None and pick.project == expected
    check_reason(CATALOG, record, pick.project, pick.reason)
    for project in pick.builds_on:
        assert project.slug in record.done and project.slug in pick.project.builds_on
    if pick.shared_with is not None:
        assert pick.shared_with.slug in record.done
        assert all(
            t in pick.shared_with.concepts and t in pick.project.concepts for t in pick.shared
        )


def test_the_reason_checker_catches_false_claims() -> None:
    """The checks above can fail: claims that are not true are caught."""
    record = Record(done={"etcd"})
    angular = CATALOG.project("angular")
    false_reasons = [
        "It shares dependency injection and signals with Svelte, which you read.",  # unread
        "It shares Raft consensus with etcd, which you read.",  # Angular has no Raft
        "It builds on etcd, which you read.",  # Angular does not build on etcd
        "Your level is advanced: 0 of 38 read.",  # the working level is beginner
        "Step 2 of 6 in Container Ecosystem, which you follow.",  # not followed
    ]
    for reason in false_reasons:
        try:
            check_reason(CATALOG, record, angular, reason)
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {reason}")
