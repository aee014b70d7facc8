"""Slack's request shapes from ``tests/slack/fixtures/``, signed and sent to a served app.

Each file holds one request as Slack documents it (see the README there). A test loads
one, changes what the scenario needs (``text``, ``actions``), and sends it through a
:class:`~fakes.slack_driver.SlackDriver`: the response_url is filled in, the body is
signed, Bolt verifies it like any other request.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from fakes.slack_driver import Message, SlackDriver, assert_valid
from fakes.slack_requests import form, interactive_form

FIXTURES = Path(__file__).parents[1] / "slack" / "fixtures"


@cache
def _read(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))


def load(name: str, **changes: Any) -> dict[str, Any]:
    """A fresh copy of fixture ``name``, with top-level fields replaced by ``changes``."""
    found: dict[str, Any] = copy.deepcopy(_read(name))
    found.update(changes)
    return found


def users() -> dict[str, dict[str, Any]]:
    """users.info ``user`` objects by id, for the fake Slack's ``users``."""
    return copy.deepcopy(_read("users"))  # type: ignore[no-any-return]


async def command(slack: SlackDriver, name: str, text: str, **changes: Any) -> Message:
    """Sends slash-command fixture ``name`` with ``text``; returns what the user sees."""
    url = slack.new_response_url()
    fields = load(name, text=text, response_url=url, **changes)
    response = await slack.post(form(fields))
    assert response.status == 200
    body = await response.text()
    if body:
        message: Message = json.loads(body)
        await slack.adapter.idle()
        assert_valid(message)
        return message
    return await slack.answer(url)


async def click(slack: SlackDriver, name: str, button: dict[str, Any]) -> Message | None:
    """Sends block_actions fixture ``name`` for ``button``; returns the answer posted to
    the response_url, or None for a Home-tab click (answered with views.publish)."""
    action = {
        "type": "button",
        "action_id": button["action_id"],
        "block_id": "b1",
        "text": button.get("text", {"type": "plain_text", "text": "?"}),
        "action_ts": "1700000000.000300",
        **({"value": button["value"]} if "value" in button else {}),
    }
    payload = load(name, actions=[action])
    url = None
    if "response_url" in payload:
        url = slack.new_response_url()
        payload["response_url"] = url
    response = await slack.post(interactive_form(payload))
    assert response.status == 200
    if url is None:
        await slack.adapter.idle()
        return None
    return await slack.answer(url)


async def event(slack: SlackDriver, name: str, **changes: Any) -> None:
    """Sends Events API fixture ``name`` and waits for what it started."""
    response = await slack.post(json.dumps(load(name, **changes)), json_body=True)
    assert response.status == 200
    await slack.adapter.idle()
