"""The fake Slack's knobs do what other tests (digest delivery among them) rely on."""

from __future__ import annotations

import asyncio
import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from fakes.slack_api import Answer, FakeSlack
from fakes.slack_requests import BOT_TOKEN
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.slack.api import retry_handlers


def client(fake: FakeSlack, sleeps: Sleeps, token: str = BOT_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(
        token=token, base_url=fake.api_url, retry_handlers=retry_handlers(sleep=sleeps)
    )


async def test_posts_keep_metadata_and_threads_for_history(
    fake_slack: FakeSlack, sleeps: Sleeps
) -> None:
    web = client(fake_slack, sleeps)
    metadata = {"event_type": "roadmap_digest", "event_payload": {"delivery": "d1"}}
    posted = await web.chat_postMessage(channel="C1", text="digest", blocks=[], metadata=metadata)
    await web.chat_postMessage(channel="C1", text="discuss", thread_ts=posted["ts"])
    bare = await web.conversations_history(channel="C1")
    assert [m["text"] for m in bare["messages"]] == ["digest"]  # thread replies stay in threads
    assert "metadata" not in bare["messages"][0]
    full = await web.conversations_history(channel="C1", include_all_metadata=True)
    assert full["messages"][0]["metadata"] == metadata
    thread = await web.conversations_replies(channel="C1", ts=posted["ts"])
    assert [m["text"] for m in thread["messages"]] == ["digest", "discuss"]
    [call] = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("metadata")]
    assert call.token == BOT_TOKEN


async def test_permanent_errors_per_channel(fake_slack: FakeSlack, sleeps: Sleeps) -> None:
    fake_slack.channel_errors["CGONE"] = "channel_not_found"
    web = client(fake_slack, sleeps)
    with pytest.raises(SlackApiError) as refused:
        await web.chat_postMessage(channel="CGONE", text="x")
    assert refused.value.response["error"] == "channel_not_found"
    assert (await web.chat_postMessage(channel="C2", text="x"))["ok"]
    assert sleeps.delays == []  # a refusal is not retried


async def test_scripted_answers_rate_limits_and_bad_tokens(
    fake_slack: FakeSlack, sleeps: Sleeps
) -> None:
    web = client(fake_slack, sleeps)
    fake_slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=3, times=2)
    fake_slack.script("chat.postMessage", Answer(500, text="oops"))
    assert (await web.chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 429, 500, 200]
    assert sleeps.delays[:2] == [3.0, 3.0]
    fake_slack.rate_limit("users.info", ratio=0.5, retry_after=0.25, seed=3)
    statuses = []
    for _ in range(20):
        fake_slack.calls.clear()
        with pytest.raises(SlackApiError):  # user_not_found, after any 429s
            await web.users_info(user="UNOBODY")
        statuses += [c.status for c in fake_slack.calls_to("users.info")]
    assert 5 <= statuses.count(429) <= 25 and statuses.count(200) == 20
    with pytest.raises(SlackApiError) as bad:
        await client(fake_slack, sleeps, token="xoxb-wrong").auth_test()
    assert bad.value.response["error"] == "invalid_auth"


async def test_latency_and_holding_calls(fake_slack: FakeSlack, sleeps: Sleeps) -> None:
    web = client(fake_slack, sleeps)
    fake_slack.latency["chat.postMessage"] = 0.05
    started = time.monotonic()
    await web.chat_postMessage(channel="C1", text="slow")
    assert time.monotonic() - started >= 0.05
    gate = fake_slack.hold("auth.test")
    pending = asyncio.create_task(web.auth_test())
    await fake_slack.wait_for("auth.test")
    assert not pending.done()  # recorded, not answered yet
    gate.set()
    assert (await pending)["user_id"] == "UBOT"
