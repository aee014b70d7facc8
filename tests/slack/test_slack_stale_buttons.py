"""Buttons the app no longer knows (older messages, older versions) are still answered."""

from __future__ import annotations

import logging

import pytest

from fakes.slack_api import FakeSlack
from fakes.slack_driver import SlackDriver
from fakes.slack_requests import button_click, interactive_form, visible_text

STALE = "This button is from an older message: try /roadmap help"


@pytest.mark.parametrize("ephemeral", [True, False])
async def test_an_unknown_action_id_gets_a_private_answer_and_one_warning(
    slack: SlackDriver, caplog: pytest.LogCaptureFixture, ephemeral: bool
) -> None:
    old = {"action_id": "roadmap:undo-v1", "value": "undo redis", "type": "button"}
    with caplog.at_level(logging.INFO):
        answer = await slack.click(old, ephemeral=ephemeral)  # asserts HTTP 200 (was 404)
    assert STALE in visible_text(answer) or STALE in answer.get("text", "")
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] is False  # the old message stays as it was
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "unknown Slack action_id 'roadmap:undo-v1': answered as a stale button"
    ]
    assert not any(r.exc_info for r in caplog.records)


async def test_an_unknown_button_on_the_home_tab_refreshes_it_with_the_answer(
    slack: SlackDriver, fake_slack: FakeSlack
) -> None:
    payload = button_click({"action_id": "home:retired", "value": "x"}, home=True)
    response = await slack.post(interactive_form(payload))
    assert response.status == 200
    await slack.adapter.idle()
    published = fake_slack.calls_to("views.publish")
    assert len(published) == 1
    assert STALE in str(published[0])
