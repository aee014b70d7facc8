"""Identity as Slack defines it, through the real Bolt app and the fake Slack: a Slack
Connect channel has one subscription whoever types, an Enterprise Grid member is one
person across the organization's workspaces, and only the installing organization's
admins manage a channel's digest. Requests come from the shapes in ``fixtures/``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fakes.slack_api import Answer, FakeSlack
from fakes.slack_driver import SlackDriver, assert_valid
from fakes.slack_fixtures import click, command, event, users
from fakes.slack_requests import button_labeled, visible_text
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.groups.delivery import Deliverer
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.digests import DigestStore
from roadmap_bot.store.sql import SqlStore

FIRST_DUE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin (alice's zone)
OUTSIDER = "You are a member of another organization in this shared channel"


@pytest.fixture
def groups(roadmap: Roadmap, deliverer: Deliverer) -> StudyGroups:
    return StudyGroups(roadmap, deliverer, default_zone="UTC")


@pytest.fixture(autouse=True)
def fixture_users(fake_slack: FakeSlack) -> None:
    fake_slack.users.update(users())


def posts(fake: FakeSlack, channel: str) -> list[dict[str, object]]:
    return [m for m in fake.messages[channel] if "thread_ts" not in m]


async def test_a_slack_connect_channel_has_one_subscription_and_one_post_a_week(
    slack: SlackDriver, deliverer: Deliverer, fake_slack: FakeSlack, store: SqlStore
) -> None:
    host = {"channel_id": "C0SHARED", "channel_name": "ext-launch"}
    made = await command(slack, "command_channel", "subscribe beginner", **host)
    assert "every Monday at 09:00 (Europe/Berlin)" in made["text"]

    # A member of the other organization reaches the same subscription...
    seen = await command(slack, "command_connect_external", "schedule")
    assert "Weekly digest: the beginner level" in visible_text(seen)
    # ...and, an admin in their own organization, changes nothing here, told why.
    for text in ("subscribe web-development", "unsubscribe", "pause 2026-12-24", "skip"):
        refused = await command(slack, "command_connect_external", text)
        said = visible_text(refused)
        assert OUTSIDER in said, (text, said)
        assert "ask an admin of Fake Team" in said
    # A guest of the host workspace does not either.
    guest = await command(
        slack, "command_channel", "unsubscribe", user_id="U0GUEST", user_name="gus", **host
    )
    assert "Guests can't change a channel's digest" in visible_text(guest)

    # Their own marks are theirs: a click on an answer only they see records it.
    card = await command(slack, "command_connect_external", "project kafka")
    answer = await click(
        slack, "action_connect_external_ephemeral", button_labeled(card, "Mark done")
    )
    assert answer is not None and "Marked Apache Kafka as done" in answer["text"]
    assert answer["replace_original"] is True  # their ephemeral message, turned in place
    assert set(await store.progress("slack:T0EXT:U0EVE")) == {"kafka"}

    # One subscription, one post a week, in the one channel.
    active = await DigestStore(store).active()
    assert [s.channel for s in active] == ["slack:T1:C0SHARED"]
    for week in range(2):
        summary = await deliverer.run_due(FIRST_DUE + timedelta(weeks=week))
        assert summary.line() == "delivered 1, already delivered 0, failed 0"
    assert len(posts(fake_slack, "C0SHARED")) == 2
    assert {c.params["channel"] for c in fake_slack.calls_to("chat.postMessage")} == {"C0SHARED"}


async def test_the_host_admin_manages_the_shared_channel(slack: SlackDriver) -> None:
    host = {"channel_id": "C0SHARED", "channel_name": "ext-launch"}
    await command(slack, "command_channel", "subscribe beginner", **host)
    stopped = await command(
        slack, "command_channel", "unsubscribe", user_id="UADMIN", user_name="ada", **host
    )
    assert stopped["text"].startswith("This channel no longer gets the weekly digest.")
    again = await command(slack, "command_connect_external", "schedule")
    assert "no weekly digest" in visible_text(again)


@pytest.fixture
def org_wide(fake_slack: FakeSlack) -> None:
    """The bot token is an org-wide Enterprise Grid install's: auth.test says so."""
    fake_slack.script(
        "auth.test",
        Answer(
            body={
                "ok": True,
                "url": "https://globex.enterprise.slack.test/",
                "team": "Globex",
                "user": "roadmap-bot",
                "team_id": "E0GRID",
                "user_id": "UBOT",
                "bot_id": "B1",
                "enterprise_id": "E0GRID",
                "is_enterprise_install": True,
            }
        ),
    )


@pytest.mark.usefixtures("org_wide")
async def test_a_grid_member_is_one_person_across_workspaces(
    slack: SlackDriver, fake_slack: FakeSlack, store: SqlStore
) -> None:
    done = await command(slack, "command_grid_org_wide", "done redis")  # workspace A
    assert "Marked Redis as done" in done["text"]
    there = await command(slack, "command_grid_workspace_b", "progress")  # workspace B
    assert "1 of 100 reports read" in visible_text(there)
    assert set(await store.progress("slack:E0GRID:W0GRACE")) == {"redis"}

    # A channel of the organization is the organization's: one subscription from A and B.
    await command(slack, "command_grid_org_wide", "subscribe beginner")
    seen = await command(slack, "command_grid_workspace_b", "schedule")
    assert "Asia/Tokyo" in visible_text(seen)  # grace's zone, from when she subscribed
    active = await DigestStore(store).active()
    assert [s.channel for s in active] == ["slack:E0GRID:C0GRID"]

    # The Home tab in workspace B shows the same progress, and its buttons work there.
    await event(slack, "event_app_home_opened_grid")
    [call] = fake_slack.calls_to("views.publish")
    view = call.params["view"]
    assert call.params["user_id"] == "W0GRACE"
    assert_valid(view, max_blocks=100)
    assert "1 of 100 reports read" in visible_text(view)
    assert await click(slack, "action_grid_home", button_labeled(view, "Mark done")) is None
    latest = fake_slack.calls_to("views.publish")[-1].params["view"]
    assert "2 of 100 reports read" in visible_text(latest)
    assert len(await store.progress("slack:E0GRID:W0GRACE")) == 2


async def test_direct_and_group_messages(slack: SlackDriver, store: SqlStore) -> None:
    marked = await command(slack, "command_dm", "done redis")
    assert "Marked Redis as done" in marked["text"]
    refused = await command(slack, "command_dm", "subscribe beginner")
    assert "works in a channel, not in a direct message" in visible_text(refused)
    group = await command(slack, "command_group_dm", "progress")
    assert "1 of 100 reports read" in visible_text(group)
    assert set(await store.progress("slack:T1:U1")) == {"redis"}
