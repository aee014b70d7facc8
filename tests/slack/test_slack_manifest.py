"""The Slack app manifests in deploy/ match what the adapter serves and calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from roadmap_bot.adapters.slack.installs import BOT_SCOPES, REDIRECT_PATH
from roadmap_bot.adapters.slack.server import EVENTS_PATH

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def manifest(name: str) -> dict[str, Any]:
    return json.loads((DEPLOY / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["slack-app-manifest.json", "slack-app-manifest.socket-mode.json"])
def test_manifest_declares_what_the_adapter_uses(name: str) -> None:
    app = manifest(name)
    [command] = app["features"]["slash_commands"]
    assert command["command"] == "/roadmap"
    assert command["should_escape"] is True  # mentions arrive as <@U1|name>
    assert app["features"]["app_home"]["home_tab_enabled"] is True
    assert app["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert app["settings"]["interactivity"]["is_enabled"] is True
    scopes = set(app["oauth_config"]["scopes"]["bot"])
    assert {"commands", "users:read", "chat:write"} <= scopes
    assert 174 <= len(app["display_information"]["long_description"]) <= 4000


def test_http_manifest_points_everything_at_the_events_endpoint() -> None:
    app = manifest("slack-app-manifest.json")
    urls = [
        app["features"]["slash_commands"][0]["url"],
        app["settings"]["event_subscriptions"]["request_url"],
        app["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.startswith("https://") and url.endswith(EVENTS_PATH) for url in urls)
    assert app["settings"]["socket_mode_enabled"] is False


def test_socket_mode_manifest_needs_no_public_url() -> None:
    app = manifest("slack-app-manifest.socket-mode.json")
    assert app["settings"]["socket_mode_enabled"] is True
    assert "url" not in json.dumps(app["features"]["slash_commands"])
    assert "request_url" not in json.dumps(app["settings"])


def test_distribution_manifest_asks_for_what_oauth_installs_use() -> None:
    app = manifest("slack-app-manifest.distributed.json")
    assert tuple(app["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES  # what /slack/install asks
    [redirect] = app["oauth_config"]["redirect_urls"]
    assert redirect.startswith("https://") and redirect.endswith(REDIRECT_PATH)
    events = app["settings"]["event_subscriptions"]
    assert events["bot_events"] == ["app_home_opened", "app_uninstalled", "tokens_revoked"]
    urls = [
        app["features"]["slash_commands"][0]["url"],
        events["request_url"],
        app["settings"]["interactivity"]["request_url"],
    ]
    assert all(url.startswith("https://") and url.endswith(EVENTS_PATH) for url in urls)
    assert app["settings"]["socket_mode_enabled"] is False  # installs by OAuth need HTTP mode
    # Everything else is the single-workspace HTTP manifest's.
    single = manifest("slack-app-manifest.json")
    assert app["features"] == single["features"]
    assert app["display_information"] == single["display_information"]
