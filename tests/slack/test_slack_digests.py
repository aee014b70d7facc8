"""Weekly digests on Slack, through the real Bolt app and slack_sdk against a fake Slack."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from fakes.slack_api import FakeSlack
from fakes.slack_driver import SlackDriver, assert_valid
from fakes.slack_requests import BOT_TOKEN, SIGNING_SECRET, button_labeled
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.slack.poster import EVENT_TYPE
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.chat.replies import Reply, ReplyKind
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store import Status
from roadmap_bot.store.digests import DigestStore
from roadmap_bot.store.schema import deliveries
from roadmap_bot.store.sql import SqlStore

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday after the tests' NOW, UTC


@pytest.fixture
def groups(roadmap: Roadmap, deliverer: Deliverer) -> StudyGroups:
    return StudyGroups(roadmap, deliverer, default_zone="UTC")


def posts(fake: FakeSlack, channel: str = "C1") -> list[dict[str, object]]:
    return [m for m in fake.messages[channel] if "thread_ts" not in m]


async def test_subscribe_in_slack_takes_the_users_zone(slack: SlackDriver) -> None:
    reply = await slack.command("subscribe web-development at 10:00")
    assert "every Monday at 10:00 (Europe/Berlin)" in reply["text"]  # alice's zone in users.info


async def test_the_weekly_post_with_metadata_buttons_and_a_thread(
    slack: SlackDriver, deliverer: Deliverer, fake_slack: FakeSlack, store: SqlStore
) -> None:
    await slack.command("subscribe web-development")  # alice, zone Europe/Berlin
    due = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
    summary = await deliverer.run_due(due)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"
    [post] = posts(fake_slack)
    assert_valid(post)  # type: ignore[arg-type]
    assert post["metadata"] == {
        "event_type": EVENT_TYPE,
        "event_payload": {"delivery_id": "1-2026-11-30"},
    }
    assert post["blocks"][0]["text"]["text"] == "Project of the week: React"  # type: ignore[index]
    labels = [
        e["text"]["text"]
        for b in post["blocks"]  # type: ignore[attr-defined]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert labels[:3] == ["Done", "Reading", "Skip for me"] and "Share to channel" not in labels
    [thread] = [m for m in fake_slack.messages["C1"] if m.get("thread_ts") == post["ts"]]
    assert "Discussion: React" in str(thread["text"])
    # a click on Done in the channel records the clicker's progress, privately
    done = button_labeled(post, "Done")  # type: ignore[arg-type]
    answer = await slack.click(done, user="U2", user_name="bob")
    assert "Marked React as done" in answer["text"]
    assert (await store.progress("slack:T1:U2"))["react"].status is Status.DONE


async def test_rate_limits_are_waited_out(
    slack: SlackDriver, deliverer: Deliverer, fake_slack: FakeSlack, waits: Sleeps
) -> None:
    await slack.command("subscribe beginner tz UTC")
    fake_slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=7, times=2)
    summary = await deliverer.run_due(FIRST_DUE)
    assert summary.delivered == 1
    assert waits.delays[:2] == [7.0, 7.0]
    assert len(posts(fake_slack)) == 1


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ("channel_not_found", "channel_not_found: the channel no longer exists"),
        ("not_in_channel", "not_in_channel: the bot is not a member of the channel"),
        ("is_archived", "is_archived: the channel is archived"),
    ],
)
async def test_a_channel_that_is_gone_pauses_only_itself(
    slack: SlackDriver,
    deliverer: Deliverer,
    fake_slack: FakeSlack,
    error: str,
    shown: str,
) -> None:
    await slack.command("subscribe beginner tz UTC", channel="CGONE")
    await slack.command("subscribe beginner tz UTC", channel="CFINE")
    fake_slack.channel_errors["CGONE"] = error
    summary = await deliverer.run_due(FIRST_DUE)
    assert (summary.delivered, summary.failed) == (1, 1)
    assert len(posts(fake_slack, "CFINE")) == 1
    schedule = await slack.command("schedule", channel="CGONE")
    assert shown in str(schedule["blocks"])


async def test_a_lost_answer_is_checked_against_the_channel_history(
    slack: SlackDriver, deliverer: Deliverer, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    await slack.command("subscribe beginner tz UTC")
    fake_slack.lose_answers["chat.postMessage"] = 1  # Slack posts it; the answer is lost
    clock.set(FIRST_DUE)
    summary = await deliverer.run_due()
    assert summary.delivered == 1
    assert len(posts(fake_slack)) == 1, "posted twice"
    [lookup] = fake_slack.calls_to("conversations.history")
    assert lookup.params["include_all_metadata"] in ("true", "1", True)
    assert len([m for m in fake_slack.messages["C1"] if "thread_ts" in m]) == 1


async def test_a_crash_before_recording_is_recovered_without_a_second_post(
    slack: SlackDriver,
    deliverer: Deliverer,
    fake_slack: FakeSlack,
    store: SqlStore,
    clock: FixedClock,
) -> None:
    await slack.command("subscribe beginner tz UTC")
    clock.set(FIRST_DUE)
    poster = deliverer.posters["slack"]
    await poster.post("slack:T1:C1", _digest(), "1-2026-11-30")
    # the process died here: the claim stays unfinished ...
    async with store.write() as conn:
        await conn.execute(
            deliveries.insert().values(
                id="1-2026-11-30",
                subscription_id=1,
                channel="slack:T1:C1",
                week=date(2026, 11, 30),
                due_at=FIRST_DUE,
                kind="digest",
                project="fzf",
                state="claimed",
                attempts=1,
                claimed_at=FIRST_DUE,
                claimed_by="gone:1",
            )
        )
    # ... and a restart a quarter of an hour later finds the post in the channel's history
    clock.set(FIRST_DUE + timedelta(minutes=15))
    summary = await deliverer.run_due()
    assert summary.delivered == 1
    assert len(posts(fake_slack)) == 1


def _digest() -> Reply:
    return Reply(kind=ReplyKind.DIGEST, title="Project of the week: fzf", public=True)


async def test_run_due_posts_slack_digests_from_a_cron_job(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db = tmp_path / "cron.db"
    store = await SqlStore.open(db)
    await DigestStore(store).subscribe(
        "slack:T1:C9",
        "path:web-development",
        Schedule(0, time(9), "UTC"),
        "slack:T1:U1",
        datetime.now(UTC),
    )
    await store.close()
    due = Schedule(0, time(9), "UTC").next_after(datetime.now(UTC))[1]
    fake_slack.now = due.timestamp
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    env.update(
        ROADMAP_DB=str(db),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        ROADMAP_REPORT_URL=fake_slack.url + "/oss/{name}.md",  # never the internet
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roadmap_bot",
        "digest",
        "run-due",
        "--now",
        due.isoformat(),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip() == "delivered 1, already delivered 0, failed 0"
    [post] = posts(fake_slack, "C9")
    assert post["blocks"][0]["text"]["text"] == "Project of the week: React"  # type: ignore[index]
    assert BOT_TOKEN not in err.decode()
