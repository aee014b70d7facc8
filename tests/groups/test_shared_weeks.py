"""Channels at the same step of a target share the common part of their weekly post (a
fan-out composes it once per step); what each channel reads is still exactly its own.

Each example composes one channel's digest twice: with the catalog every earlier example
used (its cache of shared parts filled by channels in other states), and with a fresh
copy of the catalog (nothing shared). The states are drawn from a small space on purpose,
so that many examples meet the same step with a different last pick, a skip, other
members, other news or another outline: a part shared where it should not be shows.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st

from roadmap_bot.groups.digest import GroupState, ReadingAgenda, compose_digest, plan
from roadmap_bot.groups.news import GroupNews
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.learning.catalog import load_catalog
from roadmap_bot.store import Mark, Status
from roadmap_bot.store.digests import Subscription

CATALOG = load_catalog()  # module level: the strategies need it before fixtures
TARGETS = ("path:observability-stack", "level:beginner")
WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MEMBERS = ("slack:T1:UANN", "slack:T1:UBOB")


def outline(slug: str, variant: int) -> ReadingAgenda:
    return ReadingAgenda(
        decisions=tuple(f"{slug} decision {k} v{variant}" for k in range(1, 4)),
        takeaways=(f"{slug} lesson v{variant}",),
        anchors=tuple(f"{slug}-{k}" for k in range(1, 4)),
    )


@st.composite
def channels(draw: st.DrawFn) -> tuple[Subscription, GroupState, dict[str, ReadingAgenda]]:
    target = draw(st.sampled_from(TARGETS))
    steps = plan(CATALOG, target)
    done = draw(st.integers(0, 4))  # the first weeks are out
    covered = dict.fromkeys(steps[:done], "posted")
    if done and draw(st.booleans()):
        covered[steps[draw(st.integers(0, done - 1))]] = "skipped"
    posted = draw(st.permutations([s for s, how in covered.items() if how == "posted"]))
    readers = draw(st.lists(st.sampled_from(MEMBERS), unique=True))
    marks = {
        m: {
            s: Mark(draw(st.sampled_from(Status)), WHEN)
            for s in draw(st.sets(st.sampled_from(steps[:5])))
        }
        for m in readers
    }
    names = {m: m.rsplit(":", 1)[-1].title() for m in readers if draw(st.booleans())}
    news = GroupNews(
        draw(st.sampled_from(["", "1 report finished: Ann read Loki."])),
        draw(st.sampled_from(["", "Streaks: Ann 2 weeks."])),
        draw(st.sampled_from([None, "https://roadmap.example.org/groups/a"])),
    )
    agendas = {
        slug: outline(slug, variant)
        for slug in steps[:6]
        if (variant := draw(st.integers(0, 2)))  # 0: that report's outline is missing
    }
    sub = Subscription(
        1, "slack:T1:C1", target, Schedule(0, time(9, 0), "UTC"), "slack:T1:U1", WHEN, WHEN
    )
    return sub, GroupState(covered, posted, marks, names, news), agendas


@settings(max_examples=200, deadline=None)
@given(channel=channels())
def test_a_digest_from_shared_parts_is_the_one_composed_alone(
    channel: tuple[Subscription, GroupState, dict[str, ReadingAgenda]],
) -> None:
    sub, state, agendas = channel
    shared = compose_digest(CATALOG, sub, state, agendas)
    alone = compose_digest(dataclasses.replace(CATALOG), sub, state, agendas)
    assert shared == alone
