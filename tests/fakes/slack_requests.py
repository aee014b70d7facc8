"""Requests as Slack sends them: signed slash commands, block_actions and events.

Signatures are made with slack_sdk's own ``SignatureVerifier.generate_signature`` (the
way bolt-python's tests do), so Bolt's real verification checks them.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-1-test-app-token"


def signed_headers(
    body: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    json_body: bool = False,
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {
        "Content-Type": "application/json" if json_body else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }


def slash_command(
    text: str,
    *,
    response_url: str,
    user: str = "U1",
    user_name: str = "alice",
    team: str = "T1",
    channel: str = "C1",
    command: str = "/roadmap",
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "fake",
        "channel_id": channel,
        "channel_name": "directmessage" if channel.startswith("D") else "general",
        "user_id": user,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": "A1",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "1.2.3",
    }


def button_click(
    action: dict[str, Any],
    *,
    response_url: str | None = None,
    user: str = "U1",
    user_name: str = "alice",
    team: str = "T1",
    channel: str = "C1",
    ephemeral: bool = True,
    home: bool = False,
) -> dict[str, Any]:
    """A block_actions payload for a button taken from a rendered message."""
    clicked = {
        "type": "button",
        "action_id": action["action_id"],
        "block_id": "b1",
        "text": action.get("text", {"type": "plain_text", "text": "?"}),
        "action_ts": "1700000000.1",
    }
    if "value" in action:
        clicked["value"] = action["value"]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team, "domain": "fake"},
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": team},
        "api_app_id": "A1",
        "token": "legacy-verification-token",
        "trigger_id": "1.2.3",
        "actions": [clicked],
    }
    if home:
        payload["container"] = {"type": "view", "view_id": "V1"}
        payload["view"] = {"id": "V1", "type": "home", "blocks": []}
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        payload["channel"] = {"id": channel, "name": "general"}
        payload["response_url"] = response_url
    return payload


def home_opened(user: str = "U1", team: str = "T1", tab: str = "home") -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A1",
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "D1",
            "tab": tab,
            "event_ts": "1700000000.2",
        },
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": 1700000000,
    }


def form(fields: dict[str, str]) -> str:
    return urlencode(fields)


def interactive_form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button of a rendered message or view, in order (row accessories too)."""
    found = []
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            found.extend(e for e in block["elements"] if e.get("type") == "button")
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            found.append(accessory)
    return found


def button_labeled(message: dict[str, Any], label: str) -> dict[str, Any]:
    for element in buttons(message):
        if element["text"]["text"] == label:
            return element
    raise AssertionError(f"no button {label!r} in {[b['text']['text'] for b in buttons(message)]}")


def visible_text(message: dict[str, Any]) -> str:
    """All text a person reads in a message's blocks, in order."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and "text" in node:
                out.append(node["text"])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    return "\n".join(out)


async def post_to_serve(port: int, body: str) -> dict[str, Any]:
    """Send one signed request, as Slack would, to a `serve` process on ``port``; its
    answer (the ack's JSON body) after checking it was a 200."""
    import aiohttp  # only the process tests need a client

    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{port}/slack/events", data=body, headers=signed_headers(body)
        ) as answer,
    ):
        assert answer.status == 200
        return dict(json.loads(await answer.text()))
