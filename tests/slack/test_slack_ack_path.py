"""The slash-command path's cheaper parts behave as Bolt's own: the answer in the ack,
and the first ``auth.test`` shared by commands that arrive together."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest

from fakes.slack_api import FakeSlack
from fakes.slack_requests import form, signed_headers, slash_command
from roadmap_bot.adapters.slack.acks import answer_ack
from roadmap_bot.adapters.slack.app import SlackAdapter
from roadmap_bot.adapters.slack.blocks import render_message
from roadmap_bot.chat.replies import Reply, ReplyKind

REPLIES = [
    Reply(kind=ReplyKind.HELP, title="Ünïcode — “quotes” & <tags> ✓", text="a\nb"),
    Reply(kind=ReplyKind.ERROR, ok=False, title="", text=""),
]


@pytest.mark.parametrize("reply", REPLIES)
@pytest.mark.parametrize("response_type", ["ephemeral", "in_channel"])
async def test_the_ack_is_the_json_bolts_own_ack_would_send(
    reply: Reply, response_type: str
) -> None:
    message = render_message(reply)
    ours = answer_ack(dict(message), response_type)
    bolts = await AsyncAck()(response_type=response_type, **message)
    assert json.loads(ours.body) == json.loads(bolts.body)
    assert (ours.status, ours.headers) == (bolts.status, bolts.headers)


async def test_commands_arriving_together_share_one_auth_test(
    adapter: SlackAdapter, fake_slack: FakeSlack
) -> None:
    gate = fake_slack.hold("auth.test")  # Slack is slow to answer the first one
    requests = []
    for n in range(8):
        body = form(slash_command("help", response_url=fake_slack.response_url(f"r{n}")))
        requests.append(AsyncBoltRequest(body=body, headers=signed_headers(body)))
    answers = [asyncio.create_task(adapter.app.async_dispatch(r)) for r in requests]
    await fake_slack.wait_for("auth.test")
    gate.set()
    responses: list[Any] = await asyncio.gather(*answers)
    assert [r.status for r in responses] == [200] * 8
    assert all(json.loads(r.body)["blocks"] for r in responses)  # each answered in its ack
    assert len(fake_slack.calls_to("auth.test")) == 1
