"""The Slack app end to end: signed requests to the served endpoint, answers at the fake Slack."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest

from fakes.slack_api import Answer, FakeSlack
from fakes.slack_driver import SlackDriver, assert_valid, make_settings
from fakes.slack_requests import (
    BOT_TOKEN,
    SIGNING_SECRET,
    button_click,
    button_labeled,
    buttons,
    form,
    home_opened,
    interactive_form,
    slash_command,
    visible_text,
)
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.slack import app as slack_app
from roadmap_bot.adapters.slack.api import web_client
from roadmap_bot.adapters.slack.app import SlackAdapter
from roadmap_bot.adapters.slack.blocks import SHARE_ACTION
from roadmap_bot.adapters.slack.people import Install, Origin, People
from roadmap_bot.store import Status
from roadmap_bot.store.sql import SqlStore

ALICE = "slack:T1:U1"


async def test_a_fast_answer_rides_in_the_ack_privately(slack: SlackDriver) -> None:
    url = slack.new_response_url()
    response = await slack.post(form(slash_command("project redis", response_url=url)))
    assert response.status == 200
    message = json.loads(await response.text())
    assert_valid(message)
    await slack.adapter.idle()
    assert slack.fake.responses("r1") == []  # one exchange: nothing to the response_url
    assert message["response_type"] == "ephemeral"
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Redis", "emoji": True},
    }
    assert "Step 1 of 5 in Data Infrastructure" in visible_text(message)
    labels = [b["text"]["text"] for b in buttons(message)]
    assert labels == ["Mark done", "Next in path: Apache Kafka", "Open report", "Share to channel"]
    assert button_labeled(message, "Open report")["url"].endswith("/redis/README.md")


async def test_a_slow_answer_is_acked_first_then_sent_to_the_response_url(
    slack: SlackDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_app, "INLINE_BUDGET", 0.0)  # as if the core were slow
    gate = slack.fake.hold("response_url")  # Slack has not taken the answer yet...
    url = slack.new_response_url()
    response = await slack.post(form(slash_command("project redis", response_url=url)))
    assert response.status == 200  # ...and the ack is back already, empty
    assert await response.text() == ""
    gate.set()
    message = await slack.answer(url)
    assert message["response_type"] == "ephemeral"
    assert "Step 1 of 5 in Data Infrastructure" in visible_text(message)


@pytest.mark.parametrize(
    "sign",
    [
        {"secret": "not-the-signing-secret"},
        {"timestamp": int(time.time()) - 10 * 60},  # replayed: older than five minutes
    ],
    ids=["bad-signature", "stale-timestamp"],
)
async def test_unverified_requests_get_401_and_reach_nothing(
    slack: SlackDriver, store: SqlStore, sign: dict[str, object]
) -> None:
    url = slack.new_response_url()
    response = await slack.post(form(slash_command("done redis", response_url=url)), **sign)
    assert response.status == 401
    await slack.adapter.idle()
    assert slack.fake.responses() == []
    assert await store.progress(ALICE) == {}  # the command never ran
    assert await store.user_name(ALICE) is None


async def test_mark_done_button_runs_as_the_clicker_and_answers_in_place(
    slack: SlackDriver, store: SqlStore
) -> None:
    card = await slack.command("project redis")
    answer = await slack.click(button_labeled(card, "Mark done"))
    assert answer["replace_original"] is True
    assert answer["blocks"][0]["text"]["text"] == "Marked Redis as done. Nice work!"
    assert (await store.progress(ALICE))["redis"].status is Status.DONE
    # The card now offers Undo instead, and Undo takes the mark back.
    card = await slack.command("redis")
    assert "Your status*\ndone on 23 Nov 2026" in visible_text(card)
    undone = await slack.click(button_labeled(card, "Undo"))
    assert "Removed your 'done' mark on Redis" in undone["text"]
    assert await store.progress(ALICE) == {}


async def test_long_lists_page_in_place_with_previous_and_next(slack: SlackDriver) -> None:
    first = await slack.command("intermediate")
    assert first["blocks"][0]["text"]["text"] == "Intermediate projects (35)"
    assert "Page 1 of 4 · 1–10 of 35" in visible_text(first)
    assert [b["text"]["text"] for b in buttons(first)].count("Open") == 10
    second = await slack.click(button_labeled(first, "Next ▶"))
    assert second["replace_original"] is True
    assert "Page 2 of 4 · 11–20 of 35" in visible_text(second)
    assert button_labeled(second, "◀ Previous")["value"] == "intermediate page 1"
    last = await slack.click(button_labeled(await slack.command("advanced page 4"), "◀ Previous"))
    assert "Page 3 of 4 · 21–30 of 38" in visible_text(last)


async def test_open_button_on_a_row_opens_that_card(slack: SlackDriver) -> None:
    level = await slack.command("beginner")
    first_row = next(b for b in level["blocks"] if b.get("accessory"))
    card = await slack.click(first_row["accessory"])
    assert card["blocks"][0]["text"]["text"] in first_row["text"]["text"]
    assert "Your status" in visible_text(card)


async def test_share_posts_the_same_card_for_the_channel(slack: SlackDriver) -> None:
    private = await slack.command("path observability")
    share = button_labeled(private, "Share to channel")
    assert share["action_id"] == SHARE_ACTION
    shared = await slack.click(share)
    assert shared["response_type"] == "in_channel"
    assert shared["replace_original"] is False
    assert shared["blocks"][0] == private["blocks"][0]
    # The path as it is for everyone: its steps, not the sharer's place in it.
    assert "Prometheus" in visible_text(shared) and "Prometheus" in visible_text(private)
    assert ":arrow_forward:" in visible_text(private)
    assert ":arrow_forward:" not in visible_text(shared)
    assert "0 of 5 done" not in visible_text(shared)
    assert all(b["text"]["text"] != "Share to channel" for b in buttons(shared))


async def test_buttons_on_a_public_message_answer_the_clicker_alone(slack: SlackDriver) -> None:
    shared = await slack.click(
        button_labeled(await slack.command("project kafka"), "Share to channel")
    )
    answer = await slack.click(
        button_labeled(shared, "Mark done"), user="U2", user_name="bob", ephemeral=False
    )
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] is False  # the channel's card stays as it was
    assert "Marked Apache Kafka as done" in answer["text"]


async def test_suggestions_are_buttons_that_run_the_fix(slack: SlackDriver) -> None:
    wrong = await slack.command("kubrnetes")
    assert "I don't know the command or project 'kubrnetes'" in visible_text(wrong)
    fix = button_labeled(wrong, "project kubernetes")
    assert fix["style"] == "primary"
    card = await slack.click(fix)
    assert card["blocks"][0]["text"]["text"] == "Kubernetes"


async def test_typed_text_never_mentions_or_broadcasts(slack: SlackDriver) -> None:
    # Typed literally, '<!channel> & <!here>' reaches us escaped; '@here' as Slack's entity.
    message = await slack.command(
        "search &lt;!channel&gt; &amp; &lt;!here&gt; <!here> <@U2> <#C1|general>"
    )
    raw = json.dumps(message)
    for live in ("<!channel>", "<!here>", "<@U2>", "<#C1"):
        assert live not in raw
    assert "&lt;!channel&gt; &amp; &lt;!here&gt; @here @bob #general" in visible_text(message)
    assert all(t.get("verbatim") for t in _text_objects(message) if t["type"] == "mrkdwn")


async def test_progress_of_a_mentioned_user_uses_their_name_without_a_ping(
    slack: SlackDriver,
) -> None:
    await slack.command("done fzf", user="U2", user_name="bob")
    message = await slack.command("progress <@U2|bob>")
    assert message["blocks"][0]["text"]["text"] == "bob's progress"
    assert "1 of 100 reports read" in visible_text(message)
    # A mention without a name (newer clients) is looked up once, and never echoed raw.
    nobody = await slack.command("progress <@UADMIN>")
    assert nobody["blocks"][0]["text"]["text"] == "ada has no progress yet."
    assert "<@" not in json.dumps(nobody)


async def test_users_are_per_team_and_direct_messages_are_no_channel(
    slack: SlackDriver, store: SqlStore
) -> None:
    await slack.command("done etcd", team="T9")
    assert "etcd" in await store.progress("slack:T9:U1")
    assert await store.progress(ALICE) == {}
    dm = await slack.command("subscribe observability-stack", channel="D123")
    assert "works in a channel, not in a direct message" in visible_text(dm)


async def test_subscribing_uses_the_slack_profile_only_when_needed(
    slack: SlackDriver, fake_slack: FakeSlack
) -> None:
    await slack.command("project redis")
    assert fake_slack.calls_to("users.info") == []  # nothing needed the profile
    await slack.command("subscribe observability-stack", user="U2", user_name="bob")
    created = await slack.command("schedule")
    assert "America/New_York" in visible_text(created)  # bob's zone, from users.info
    refused = await slack.command("unsubscribe")  # alice did not create it and is no admin
    assert "You can't stop this channel's digest" in visible_text(refused)
    assert "workspace admins and owners" in visible_text(refused)
    allowed = await slack.command("subscribe beginner", user="UADMIN", user_name="ada")
    assert "This replaces the subscription to Observability Stack" in visible_text(allowed)
    assert [c.params["user"] for c in fake_slack.calls_to("users.info")] == ["U2", "U1", "UADMIN"]


async def test_configured_admins_may_manage_digests(
    roadmap: object, fake_slack: FakeSlack, tmp_path: object
) -> None:
    settings = make_settings(fake_slack, tmp_path, ROADMAP_SLACK_ADMINS="U1, slack:T1:U2")  # type: ignore[arg-type]
    people = People(web_client(settings), settings.slack_admins)
    one, two = Install(team="T1"), Install(team="T2")
    assert (await people.profile(Origin(one, "U1"))).can_manage_channel
    assert (await people.profile(Origin(one, "U2"))).can_manage_channel
    assert not (await people.profile(Origin(two, "U2"))).can_manage_channel  # another U2
    profile = await people.profile(Origin(one, "U1"))
    assert profile.timezone == "Europe/Berlin"


async def test_home_tab_shows_progress_and_the_pick(slack: SlackDriver) -> None:
    await slack.command("done fzf")
    response = await slack.post(json.dumps(home_opened()), json_body=True)
    assert response.status == 200
    await slack.adapter.idle()
    [call] = slack.fake.calls_to("views.publish")
    view = call.params["view"]
    assert call.params["user_id"] == "U1" and view["type"] == "home"
    assert_valid(view, max_blocks=100)
    text = visible_text(view)
    assert "Your progress" in text and "1 of 100 reports read" in text
    assert "`█░░░░░░░░░` 1/11  Beginner" in text
    assert "Read next:" in text
    # The Messages tab is not the Home tab: nothing to publish.
    await slack.post(json.dumps(home_opened(tab="messages")), json_body=True)
    await slack.adapter.idle()
    assert len(slack.fake.calls_to("views.publish")) == 1


async def test_a_click_on_the_home_tab_refreshes_it_with_the_answer(
    slack: SlackDriver, store: SqlStore
) -> None:
    await slack.post(json.dumps(home_opened()), json_body=True)
    await slack.adapter.idle()
    view = slack.fake.views["U1"]
    mark = button_labeled(view, "Mark done")
    await slack.post(interactive_form(button_click(mark, home=True)))
    await slack.adapter.idle()
    view = slack.fake.views["U1"]
    assert view["blocks"][0]["text"]["text"].startswith("Marked ")
    assert "1 of 100 reports read" in visible_text(view)
    assert len(await store.progress(ALICE)) == 1


async def test_url_buttons_are_acknowledged_and_do_nothing_else(slack: SlackDriver) -> None:
    card = await slack.command("project redis")
    url = slack.new_response_url()
    response = await slack.post(
        interactive_form(button_click(button_labeled(card, "Open report"), response_url=url))
    )
    assert response.status == 200
    await slack.adapter.idle()
    assert slack.fake.responses(url.rsplit("/", 1)[-1]) == []


async def test_a_rate_limited_answer_is_retried_after_retry_after(
    slack: SlackDriver, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slack_app, "INLINE_BUDGET", 0.0)  # the answer goes to the response_url
    slack.fake.script(
        "response_url",
        Answer(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "2"}),
    )
    url = slack.new_response_url()
    await slack.post(form(slash_command("next", response_url=url)))
    await slack.adapter.idle()
    attempts = [c for c in slack.fake.calls_to("response_url") if c.path.endswith(url[-3:])]
    assert [c.status for c in attempts] == [429, 200]
    assert sleeps.delays == [2.0]
    assert attempts[1].params["blocks"][0]["text"]["text"].startswith("Read next:")


async def test_web_api_429_and_5xx_are_retried(slack: SlackDriver, sleeps: Sleeps) -> None:
    slack.fake.fail("views.publish", "ratelimited", status=429, retry_after=0.5)
    slack.fake.script("views.publish", Answer(503, text="upstream down"))
    await slack.post(json.dumps(home_opened()), json_body=True)
    await slack.adapter.idle()
    assert [c.status for c in slack.fake.calls_to("views.publish")] == [429, 503, 200]
    rate_limited, backoff = sleeps.delays
    assert rate_limited == 0.5  # exactly what Retry-After said
    assert 1.0 <= backoff <= 2.0  # the 5xx, second retry: 0.5 s x 2, plus up to 1 s jitter
    assert "U1" in slack.fake.views


async def test_a_failure_inside_is_told_to_the_user(slack: SlackDriver, store: SqlStore) -> None:
    await store.close()  # the database is gone: the core cannot answer
    message = await slack.command("progress")
    assert message["blocks"][0]["text"]["text"] == "Sorry, something went wrong on my side."


async def test_a_busy_database_is_told_as_such_and_nothing_is_lost(
    slack: SlackDriver, busy_store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    message = await slack.command("done redis")
    blocks = json.dumps(message["blocks"])
    assert "The database is busy right now, so I could not answer." in blocks
    assert "try the same command again" in blocks
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "answering a Slack command: the database is busy (database is locked); "
        "the person was asked to try again"
    ]
    assert not [r for r in caplog.records if r.exc_info]  # a condition, not a bug
    assert all(
        "redis" not in marks for marks in (await busy_store.progress_of(["slack:T1:U1"])).values()
    )


async def test_secrets_never_reach_the_logs(
    slack: SlackDriver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack.fake.fail("views.publish", "ratelimited", status=429, retry_after=0)
    await slack.command("project redis")
    await slack.post(json.dumps(home_opened()), json_body=True)
    await slack.post(form(slash_command("next", response_url="x")), secret="wrong")
    await slack.adapter.idle()
    assert caplog.records
    assert BOT_TOKEN not in caplog.text
    assert SIGNING_SECRET not in caplog.text


async def test_healthz(slack: SlackDriver) -> None:
    async with slack.http.get(slack.base + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"ok": True, "mode": "http"}


async def test_many_commands_at_once_are_each_answered_once(
    slack: SlackDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def ask(i: int, url: str) -> str:
        response = await slack.post(
            form(slash_command(f"search raft page {i % 3 + 1}", response_url=url))
        )
        return await response.text()

    for budget in (slack_app.INLINE_BUDGET, 0.0):  # answered in the ack, then late
        monkeypatch.setattr(slack_app, "INLINE_BUDGET", budget)
        urls = [slack.new_response_url() for _ in range(20)]
        acks = await asyncio.gather(*(ask(i, u) for i, u in enumerate(urls)))
        await slack.adapter.idle()
        for ack, url in zip(acks, urls, strict=True):
            posted = slack.fake.responses(url.rsplit("/", 1)[-1])
            answers = [json.loads(ack)] if ack else []
            assert len(answers + posted) == 1
            assert_valid((answers + posted)[0])


def _text_objects(message: dict[str, object]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return found


async def test_an_unreachable_response_url_is_retried_then_logged(
    adapter: SlackAdapter, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there any more
    await adapter.respond(f"http://127.0.0.1:{port}/response/gone", {"text": "hi", "blocks": []})
    assert len(sleeps.delays) == 3  # three retries with backoff, then it gives up
    assert "response_url post failed" in caplog.text


async def test_group_is_a_compact_grid_and_dashboard_stays_with_the_asker(
    slack: SlackDriver,
) -> None:
    await slack.command("subscribe observability-stack tz UTC", channel="C1")
    await slack.command("reading prometheus", channel="C1", user="U2", user_name="<!channel>")
    grid = await slack.command("group", channel="C1")
    assert grid["response_type"] == "ephemeral"
    shown = visible_text(grid)
    assert "```" in shown and "&lt;!channel&gt;" in shown  # a name, never a broadcast
    assert "✓ done" in shown and "· not yet" in shown  # the legend
    assert "&lt;!channel&gt;: reading 1" in grid["text"]  # the grid in words
    assert "Share to channel" in [b["text"]["text"] for b in buttons(grid)]

    link = await slack.command("dashboard", channel="C1", user="U2", user_name="bob")
    assert link["response_type"] == "ephemeral"
    assert "/groups/" in visible_text(link)
    assert "Share to channel" not in [b["text"]["text"] for b in buttons(link)]
