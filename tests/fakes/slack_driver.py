"""Helpers for Slack tests and benchmarks: message validation, settings, a request driver."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from slack_sdk.models.blocks import Block

from fakes.slack_api import FakeSlack
from fakes.slack_requests import (
    BOT_TOKEN,
    SIGNING_SECRET,
    button_click,
    form,
    interactive_form,
    signed_headers,
    slash_command,
)
from roadmap_bot.adapters.slack.app import SlackAdapter
from roadmap_bot.adapters.slack.blocks import (
    BUTTON_TEXT,
    BUTTON_VALUE,
    HEADER_TEXT,
    MESSAGE_BLOCKS,
    SECTION_TEXT,
)
from roadmap_bot.adapters.slack.server import EVENTS_PATH
from roadmap_bot.config import Settings

Message = dict[str, Any]


def assert_valid(message: Message, max_blocks: int = MESSAGE_BLOCKS) -> None:
    """Slack would accept it: Block Kit models validate and every limit holds."""
    blocks = message["blocks"]
    assert 0 < len(blocks) <= max_blocks, f"{len(blocks)} blocks"
    assert message.get("text", "x").strip(), "a message needs its notification text"
    action_ids = []
    for raw in blocks:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= HEADER_TEXT
        if raw["type"] == "section" and "text" in raw:
            assert 0 < len(raw["text"]["text"]) <= SECTION_TEXT
        elements = list(raw.get("elements", []))
        if raw.get("accessory"):
            elements.append(raw["accessory"])
        for element in elements:
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= BUTTON_TEXT
                assert len(element.get("value", "")) <= BUTTON_VALUE
                assert ("value" in element) != ("url" in element)
                action_ids.append(element["action_id"])
    assert len(action_ids) == len(set(action_ids)), f"duplicate action_id in {action_ids}"


def make_settings(fake: FakeSlack, tmp_path: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "ROADMAP_DB": str(tmp_path / "unused.db"),
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class SlackDriver:
    """Plays Slack: sends signed requests to the served endpoint, reads what came back."""

    http: aiohttp.ClientSession
    base: str
    adapter: SlackAdapter
    fake: FakeSlack
    _urls: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_response_url(self) -> str:
        return self.fake.response_url(f"r{next(self._urls)}")

    async def post(
        self, body: str, *, json_body: bool = False, **sign: Any
    ) -> aiohttp.ClientResponse:
        headers = signed_headers(body, json_body=json_body, **sign)
        async with self.http.post(self.base + EVENTS_PATH, data=body, headers=headers) as response:
            await response.read()
            return response

    async def command(self, text: str, **fields: Any) -> Message:
        """/roadmap TEXT; returns what the user sees: the ack's message, or else the
        answer posted to the response_url."""
        url = self.new_response_url()
        response = await self.post(form(slash_command(text, response_url=url, **fields)))
        assert response.status == 200
        body = await response.text()
        if body:
            message: Message = json.loads(body)
            await self.adapter.idle()
            assert self.fake.responses(url.rsplit("/", 1)[-1]) == [], "answered twice"
            assert_valid(message)
            return message
        return await self.answer(url)

    async def click(self, button: Message, **fields: Any) -> Message:
        """Clicks a button of a message the user sees; returns the answer posted."""
        url = self.new_response_url()
        payload = button_click(button, response_url=url, **fields)
        response = await self.post(interactive_form(payload))
        assert response.status == 200
        return await self.answer(url)

    async def answer(self, url: str) -> Message:
        await self.adapter.idle()
        name = url.rsplit("/", 1)[-1]
        posted = self.fake.responses(name)
        assert len(posted) == 1, f"expected one answer at {name}, got {len(posted)}"
        assert_valid(posted[0])
        return posted[0]
