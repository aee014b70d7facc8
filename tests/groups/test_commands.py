"""Study-group commands as a channel's members see them."""

from __future__ import annotations

from datetime import timedelta

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.chat.replies import Mark, ReplyKind
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.study_groups import StudyGroups

from .conftest import RecordingPoster, member


async def test_subscribe_with_defaults(roadmap: Roadmap, groups: StudyGroups) -> None:
    reply = await roadmap.ask("subscribe observability stack", member("ann"))
    assert reply.ok
    assert reply.title == ("This channel now gets Observability Stack every Monday at 09:00 (UTC).")
    assert reply.text == "First post: Mon 30 Nov 2026, 09:00 UTC (UTC+00:00), with Prometheus."


async def test_subscribe_takes_the_platforms_zone_for_the_user(
    roadmap: Roadmap, groups: StudyGroups
) -> None:
    reply = await roadmap.ask("subscribe beginner at 8:30", member("ann", zone="Asia/Tokyo"))
    assert "every Monday at 08:30 (Asia/Tokyo)" in reply.title
    assert "Mon 30 Nov 2026, 08:30 JST (UTC+09:00), with fzf" in reply.text


async def test_subscribing_again_replaces_and_says_so(
    roadmap: Roadmap, groups: StudyGroups
) -> None:
    ann = member("ann")
    await roadmap.ask("subscribe web-development", ann)
    reply = await roadmap.ask(
        "subscribe data-infrastructure on friday at 16:00 tz Europe/Berlin", ann
    )
    assert reply.title == (
        "This channel now gets Data Infrastructure every Friday at 16:00 (Europe/Berlin)."
    )
    assert (
        "This replaces the subscription to Web Development (every Monday at 09:00 (UTC))"
        in reply.text
    )
    schedule = await roadmap.ask("schedule", ann)
    assert schedule.title == "Weekly digest: Data Infrastructure"


async def test_bad_targets_and_options_get_suggestions(
    roadmap: Roadmap, groups: StudyGroups
) -> None:
    ann = member("ann")
    bad = await roadmap.ask("subscribe observabilty", ann)
    assert not bad.ok and "subscribe observability-stack" in bad.suggestions
    bad = await roadmap.ask("subscribe begginer", ann)
    assert not bad.ok and "subscribe beginner" in bad.suggestions
    bad = await roadmap.ask("subscribe beginner on funday", ann)
    assert not bad.ok and "'funday' is not a weekday" in bad.title


async def test_commands_need_a_channel(roadmap: Roadmap, groups: StudyGroups) -> None:
    loner = Asker(id="console:solo", name="solo")
    reply = await roadmap.ask("subscribe beginner", loner)
    assert not reply.ok
    assert "roadmap-bot console --channel study" in reply.text


async def test_no_subscription_yet(roadmap: Roadmap, groups: StudyGroups) -> None:
    for word in ("schedule", "digest", "skip", "unsubscribe", "resume", "pause 2027-01-04"):
        reply = await roadmap.ask(word, member("ann"))
        assert not reply.ok
        assert reply.title == "This channel has no weekly digest."


async def test_only_managers_or_the_creator_may_change_it(
    roadmap: Roadmap, groups: StudyGroups
) -> None:
    creator, stranger, admin = member("ann"), member("bob"), member("cid", admin=True)
    await roadmap.ask("subscribe security-and-secrets", creator)
    for word in ("unsubscribe", "skip", "pause 2027-01-04", "resume", "subscribe beginner"):
        refused = await roadmap.ask(word, stranger)
        assert not refused.ok, word
        assert refused.title.startswith("You can't")
        assert "Anyone may use 'schedule' and 'digest'" in refused.text
    assert (await roadmap.ask("schedule", stranger)).ok
    assert (await roadmap.ask("digest", stranger)).ok
    assert (await roadmap.ask("skip", creator)).ok
    assert (await roadmap.ask("subscribe beginner", admin)).ok


async def test_schedule_shows_next_posts_with_dst_visible(
    roadmap: Roadmap, groups: StudyGroups, clock: FixedClock
) -> None:
    clock.advance(timedelta(days=-40))  # 14 Oct 2026: New York switches on 1 Nov
    await roadmap.ask("subscribe kafka-free on monday", member("ann"))  # bad target first
    await roadmap.ask("subscribe data-infrastructure tz America/New_York", member("ann"))
    reply = await roadmap.ask("schedule", member("bob"))
    facts = {f.label: f.value for f in reply.facts}
    assert facts["Cadence"] == "every Monday at 09:00 (America/New_York)"
    assert facts["Position"] == "step 1 of 5 next: Redis"
    times = [i.title for i in reply.items]
    assert times == [
        "Mon 19 Oct 2026, 09:00 EDT (UTC-04:00)",
        "Mon 26 Oct 2026, 09:00 EDT (UTC-04:00)",
        "Mon 2 Nov 2026, 09:00 EST (UTC-05:00)",
        "Mon 9 Nov 2026, 09:00 EST (UTC-05:00)",
    ]


async def test_skip_moves_to_the_following_pick(roadmap: Roadmap, groups: StudyGroups) -> None:
    ann = member("ann")
    await roadmap.ask("subscribe web-development", ann)
    reply = await roadmap.ask("skip", ann)
    assert reply.title == "Skipped React."
    assert "brings Next.js" in reply.text
    preview = await roadmap.ask("digest", ann)
    assert preview.title == "Project of the week: Next.js"


async def test_pause_then_resume(roadmap: Roadmap, groups: StudyGroups) -> None:
    ann = member("ann")
    await roadmap.ask("subscribe web-development", ann)
    too_soon = await roadmap.ask("pause 2026-11-20", ann)
    assert not too_soon.ok and "is not in the future" in too_soon.title
    reply = await roadmap.ask("pause 2026-12-15", ann)
    assert reply.title == "Paused until Tue 15 Dec 2026."
    assert "The path waits at React." in reply.text
    schedule = await roadmap.ask("schedule", ann)
    assert [i.mark for i in schedule.items] == [Mark.SKIPPED] * 3 + [Mark.NONE]  # 30 Nov-14 Dec
    assert {f.label: f.value for f in schedule.facts}["Paused until"] == "Tue 15 Dec 2026"
    assert (await roadmap.ask("resume", ann)).title == "Resumed."
    assert (await roadmap.ask("resume", ann)).title == "The digest is not paused."


async def test_preview_is_private_and_matches_the_next_post(
    roadmap: Roadmap, groups: StudyGroups
) -> None:
    await roadmap.ask("subscribe observability-stack", member("ann"))
    preview = await roadmap.ask("digest", member("bob"))
    assert preview.kind is ReplyKind.DIGEST
    assert preview.public is False
    assert preview.title == "Project of the week: Prometheus"
    assert preview.footer.startswith("Preview of the post due Mon 30 Nov 2026, 09:00 UTC")
    assert [a.label for a in preview.actions][:3] == ["Done", "Reading", "Skip for me"]


async def test_unsubscribe_keeps_the_channels_progress(
    roadmap: Roadmap,
    groups: StudyGroups,
    deliverer: Deliverer,
    clock: FixedClock,
    poster: RecordingPoster,
) -> None:
    ann = member("ann")
    await roadmap.ask("subscribe web-development", ann)
    clock.advance(timedelta(days=7))
    await deliverer.run_due()
    reply = await roadmap.ask("unsubscribe", ann)
    assert reply.title == "This channel no longer gets the weekly digest."
    await roadmap.ask("subscribe web-development", ann)
    preview = await roadmap.ask("digest", ann)
    assert preview.title == "Project of the week: Next.js"  # React was posted already
    text = render_text(await roadmap.ask("schedule", ann))
    assert "step 2 of 4 next: Next.js" in text
