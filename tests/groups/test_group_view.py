"""The group at a glance through the core: the matrix, pace, streaks, the activity line,
page links. Real store, real deliverer, an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from roadmap_bot.chat.core import Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.chat.replies import Cell, ReplyKind
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.group_view import GroupView
from roadmap_bot.groups.page_links import PageLinks
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.groups import GroupStore
from roadmap_bot.store.sql import SqlStore

from .conftest import RecordingPoster, member


@pytest.fixture
def view(roadmap: Roadmap, groups: StudyGroups, deliverer: Deliverer, store: SqlStore) -> GroupView:
    links = PageLinks(GroupStore(store), roadmap.clock, "https://bot.example.org", "test-secret")
    found = GroupView(roadmap, groups, links)
    deliverer.news = found.news
    return found


async def say(roadmap: Roadmap, who: str, text: str, channel: str = "console:study") -> str:
    reply = await roadmap.ask(text, member(who, channel))
    assert reply.ok, render_text(reply)
    return render_text(reply)


def row_of(view_text: str, name: str) -> str:
    return next(line for line in view_text.splitlines() if line.startswith(name + " "))


# -- the matrix and pace ---------------------------------------------------------------------


async def test_without_a_subscription_group_says_how_to_start_one(
    roadmap: Roadmap, view: GroupView
) -> None:
    reply = await roadmap.ask("group", member("ann"))
    assert not reply.ok
    assert reply.title == "This channel has no weekly digest."
    assert "subscribe observability-stack" in reply.suggestions


async def test_each_member_against_the_steps_with_who_is_ahead_or_behind(
    roadmap: Roadmap, view: GroupView, deliverer: Deliverer, clock: FixedClock
) -> None:
    await say(roadmap, "ann", "subscribe observability-stack")  # Monday 09:00 UTC
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    await deliverer.run_due(monday)  # Prometheus
    await deliverer.run_due(monday + timedelta(days=7))  # Grafana
    await deliverer.run_due(monday + timedelta(days=14))  # Loki: this week
    clock.set(monday + timedelta(days=14, hours=1))
    for text in ("done prometheus", "done grafana", "reading loki", "done thanos"):
        await say(roadmap, "ann", text)
    await say(roadmap, "bob", "pass prometheus")  # grafana neither done nor passed
    await say(roadmap, "cy", "done prometheus")
    await say(roadmap, "cy", "done grafana")

    reply = await roadmap.ask("group", member("dan"))
    assert reply.kind is ReplyKind.GROUP and reply.table is not None
    rows = {r.label: r for r in reply.table.rows}
    assert rows["ann"].cells == (Cell.DONE, Cell.DONE, Cell.READING, Cell.NOT_YET, Cell.DONE)
    assert rows["bob"].cells[:2] == (Cell.PASSED, Cell.NOT_YET)
    assert rows["ann"].note.startswith("ahead by 1")
    assert rows["bob"].note.startswith("behind by 1")
    assert rows["cy"].note.startswith("on pace")
    assert rows["dan"].note.startswith("behind by 2")  # asked, read nothing
    assert reply.table.highlight == 3
    text = render_text(reply)
    assert "This week: step 3 of 5, Grafana Loki." in text
    assert row_of(text, "ann").split()[1] == "✓✓…·✓"
    assert "✓ done   … reading   - passed   · not yet" in text
    assert "3. Grafana Loki (loki) - this week" in text and "1. Prometheus - covered" in text
    assert next(r.label for r in reply.table.rows) == "ann"  # furthest along first


async def test_members_beyond_ten_are_paged(roadmap: Roadmap, view: GroupView) -> None:
    await say(roadmap, "m00", "subscribe beginner")
    for i in range(1, 12):
        await say(roadmap, f"m{i:02}", "next")
    first = await roadmap.ask("group", member("m00"))
    second = await roadmap.ask("group page 2", member("m00"))
    assert first.table is not None and second.table is not None
    assert len(first.table.rows) == 10 and len(second.table.rows) == 2
    assert [a.command for a in first.actions][:1] == ["group page 2"]
    assert "group page 1" in [a.command for a in second.actions]
    assert "Members 11–12 of 12 (page 2 of 2)" in second.footer
    assert {r.label for r in first.table.rows} | {r.label for r in second.table.rows} == {
        f"m{i:02}" for i in range(12)
    }
    bad = await roadmap.ask("group page x", member("m00"))
    assert not bad.ok and "group page 2" in bad.suggestions


# -- streaks ---------------------------------------------------------------------------------


async def test_a_late_read_across_the_dst_change_keeps_its_week(
    roadmap: Roadmap, view: GroupView, deliverer: Deliverer, clock: FixedClock
) -> None:
    # Mondays 09:00 in Berlin: 07:00 UTC in summer time, 08:00 UTC after 25 Oct 2026.
    clock.set(datetime(2026, 10, 14, 12, 0, tzinfo=UTC))
    await say(roadmap, "lead", "subscribe observability-stack on monday at 09:00 tz Europe/Berlin")
    await say(roadmap, "ann", "next")
    await say(roadmap, "bob", "next")
    first_post = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)
    second_post = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert (await deliverer.run_due(first_post)).delivered == 1
    # Monday 26 Oct, 08:30 in Berlin (CET): a week and 30 minutes after the first post in
    # UTC, yet still before the group's next post at 09:00 local.
    clock.set(datetime(2026, 10, 26, 7, 30, tzinfo=UTC))
    await say(roadmap, "ann", "reading prometheus")
    assert (await deliverer.run_due(second_post)).delivered == 1
    clock.set(second_post + timedelta(minutes=30))  # 09:30 local: after the post
    await say(roadmap, "bob", "done prometheus")

    reply = await roadmap.ask("group", member("lead"))
    assert reply.table is not None
    notes = {r.label: r.note for r in reply.table.rows}
    assert notes["ann"].endswith("streak 1 week")
    assert notes["bob"].endswith("streak no streak")
    mine = render_text(await roadmap.ask("progress", member("ann")))
    assert "Weekly streak in this group: 1 week" in mine


async def test_one_missed_week_is_forgiven_per_streak_a_second_ends_it(
    roadmap: Roadmap, view: GroupView, deliverer: Deliverer, clock: FixedClock
) -> None:
    await say(roadmap, "ann", "subscribe beginner")
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    picks = []
    for week in range(6):
        await deliverer.run_due(monday + timedelta(days=7 * week))
        sub = await view.digests.subscription("console:study")
        assert sub is not None
        picks.append((await view.digests.deliveries("console:study", limit=1))[0].project)
    # reads in weeks 1, 2, (misses 3), 4: the miss is the grace week
    for week in (0, 1, 3):
        clock.set(monday + timedelta(days=7 * week, hours=30))
        await say(roadmap, "ann", f"done {picks[week]}")

    async def ann() -> str:
        reply = await roadmap.ask("group", member("ann"))
        assert reply.table is not None
        return next(r.note for r in reply.table.rows if r.label == "ann")

    # weeks 1, 2 count; 3 is the grace week; 4 counts (3 weeks); 5 is over and unread:
    # a second miss ends the streak. Week 6 is still open: no miss yet.
    assert (await ann()).endswith("streak no streak")
    found = await view.streaks_of([sub], {"console:study": ["console:ann"]})
    assert found["console:study"]["console:ann"].best == 3


async def test_grace_week_shows_and_paused_weeks_neither_count_nor_break(
    roadmap: Roadmap, view: GroupView, deliverer: Deliverer, clock: FixedClock
) -> None:
    await say(roadmap, "ann", "subscribe web-development")
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    await deliverer.run_due(monday)  # React
    clock.set(monday + timedelta(hours=2))
    await say(roadmap, "ann", "done react")
    await say(roadmap, "ann", "pause 2026-12-20")  # the next two Mondays are paused
    for week in (1, 2):
        await deliverer.run_due(monday + timedelta(days=7 * week))
    await say(roadmap, "ann", "resume")
    await deliverer.run_due(monday + timedelta(days=21))  # the second step
    second = (await view.digests.deliveries("console:study", limit=1))[0].project
    clock.set(monday + timedelta(days=22))
    await say(roadmap, "ann", f"reading {second}")
    await deliverer.run_due(monday + timedelta(days=28))  # third step: ann skips it
    await deliverer.run_due(monday + timedelta(days=35))
    reply = await roadmap.ask("group", member("ann"))
    assert reply.table is not None
    assert reply.table.rows[0].note.endswith("streak 2 weeks (grace week used)")
    states = [d.state.value for d in await view.digests.deliveries("console:study")]
    assert states.count("paused") == 2


# -- the weekly post -------------------------------------------------------------------------


async def test_the_digest_says_what_the_group_did_and_who_keeps_a_streak(
    roadmap: Roadmap,
    view: GroupView,
    deliverer: Deliverer,
    clock: FixedClock,
    poster: RecordingPoster,
) -> None:
    await say(roadmap, "ann", "subscribe observability-stack")
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    await deliverer.run_due(monday)  # Prometheus
    clock.set(monday + timedelta(days=1))
    await say(roadmap, "ann", "done prometheus")
    clock.advance(timedelta(minutes=5))
    await say(roadmap, "ann", "done grafana")
    await say(roadmap, "<script>alert(1)</script>", "done prometheus")
    await say(roadmap, "bob", "reading prometheus")  # reading: counts for streaks only
    await deliverer.run_due(monday + timedelta(days=7))
    post = render_text(poster.posts[-1].message)
    assert (
        "3 reports finished: <script>alert(1)</script> read Prometheus, "
        "ann read Prometheus and Grafana." in post
    )
    assert "Streaks: <script>alert(1)</script> 1 week, ann 1 week, bob 1 week." in post
    assert "Study-group page: https://bot.example.org/groups/" in post
    assert "@" not in post.split("Last week")[1]  # names, never mentions


# -- the page's link -------------------------------------------------------------------------


async def test_dashboard_is_private_and_reset_revokes_the_old_link(
    roadmap: Roadmap, view: GroupView
) -> None:
    await say(roadmap, "ann", "subscribe beginner")
    shown = await roadmap.ask("dashboard", member("bob"))
    assert shown.ok and not shown.public and not shown.shareable
    url = shown.links[0].url
    token = url.rsplit("/", 1)[1]
    assert url.startswith("https://bot.example.org/groups/") and len(token) == 32
    again = await roadmap.ask("dashboard", member("cy"))
    assert again.links[0].url == url  # one link per group, shown again
    assert await view.links.channel_of(token) == "console:study"

    refused = await roadmap.ask("dashboard reset", member("bob"))
    assert not refused.ok and "reset the page link" in refused.title
    reset = await roadmap.ask("dashboard reset", member("ann"))  # she set it up
    new_token = reset.links[0].url.rsplit("/", 1)[1]
    assert new_token != token
    assert await view.links.channel_of(token) is None
    assert await view.links.channel_of(new_token) == "console:study"
    assert await view.links.channel_of("x" * 32) is None
    async with roadmap.store.db.read() as conn:  # type: ignore[attr-defined]
        stored = (await conn.execute(sa.text("SELECT token_hash FROM dashboard_links"))).all()
    assert new_token not in str(list(stored))  # only its hash is kept

    typo = await roadmap.ask("dashboard rest", member("ann"))
    assert not typo.ok and "dashboard reset" in typo.suggestions


async def test_group_asked_again_after_a_mark_shows_the_mark(
    roadmap: Roadmap, view: GroupView, deliverer: Deliverer, clock: FixedClock
) -> None:
    await say(roadmap, "ann", "subscribe web-development")
    await deliverer.run_due(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    before = await roadmap.ask("group", member("ann"))
    again = await roadmap.ask("group", member("ann"))
    assert again == before  # nothing changed: the same answer
    await say(roadmap, "ann", "reading react")
    after = await roadmap.ask("group", member("ann"))
    assert before.table is not None and after.table is not None
    assert before.table.rows[0].cells[0] is Cell.NOT_YET
    assert after.table.rows[0].cells[0] is Cell.READING
    await say(roadmap, "ann", "unsubscribe")
    gone = await roadmap.ask("group", member("ann"))
    assert not gone.ok and gone.title == "This channel has no weekly digest."
