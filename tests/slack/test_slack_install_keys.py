"""Installation tokens by key through slack_sdk's real SQLAlchemy installation store: an
org-wide Enterprise Grid install is found by its enterprise, a Grid workspace's own
install by its team, and digests for an enterprise-keyed channel go out with the org's
token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store import Installation

from fakes.slack_api import FakeSlack
from fakes.slack_driver import make_settings
from roadmap_bot.adapters.slack.api import web_client
from roadmap_bot.adapters.slack.installs import SlackInstalls
from roadmap_bot.adapters.slack.poster import SlackPoster
from roadmap_bot.adapters.slack.tokens import NotInstalled
from roadmap_bot.chat.replies import Reply, ReplyKind


def _install(token: str, team: str | None, enterprise: str | None, org_wide: bool) -> Installation:
    return Installation(
        app_id="A1",
        enterprise_id=enterprise,
        enterprise_name="Globex" if enterprise else None,
        team_id=team,
        team_name=f"Team {team}" if team else None,
        bot_token=token,
        bot_id="B1",
        bot_user_id="UBOT",
        bot_scopes="commands,chat:write",
        user_id="UINSTALLER",
        is_enterprise_install=org_wide,
        installed_at=datetime(2026, 11, 1, tzinfo=UTC).timestamp(),
    )


@pytest.fixture
async def installs(fake_slack: FakeSlack, tmp_path: Path) -> AsyncIterator[SlackInstalls]:
    settings = make_settings(
        fake_slack,
        tmp_path,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=fake_slack.client_id,
        SLACK_CLIENT_SECRET=fake_slack.client_secret,
        ROADMAP_DB=str(tmp_path / "bot.db"),
    )
    found = SlackInstalls.open(settings)
    await found.create_tables()
    store = found.installations
    await store.async_save(_install("xoxb-org", None, "E0GRID", org_wide=True))
    await store.async_save(_install("xoxb-grid-ws", "T0GRIDC", "E0OTHER", org_wide=False))
    await store.async_save(_install("xoxb-plain", "T1", None, org_wide=False))
    yield found
    await found.close()


async def test_each_installation_is_found_by_its_key(installs: SlackInstalls) -> None:
    tokens = installs.tokens
    assert await tokens.for_team("E0GRID") == "xoxb-org"
    assert await tokens.for_team("T0GRIDC") == "xoxb-grid-ws"  # its enterprise is not needed
    assert await tokens.for_team("T1") == "xoxb-plain"
    assert await installs.name_of("E0GRID") == "Globex"
    assert await installs.name_of("T1") == "Team T1"
    await installs.remove("E0GRID")
    with pytest.raises(NotInstalled):
        await tokens.for_team("E0GRID")
    assert await tokens.for_team("T1") == "xoxb-plain"  # the others stay


async def test_a_digest_for_an_org_wide_channel_uses_the_orgs_token(
    installs: SlackInstalls, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    fake_slack.tokens = None  # any token is accepted: the test reads which one came
    poster = SlackPoster(web_client(make_settings(fake_slack, tmp_path)), installs.tokens)
    message = Reply(kind=ReplyKind.HELP, title="Project of the week", text="Redis")
    await poster.post("slack:E0GRID:C0GRID", message, "1-2026-11-30")
    await poster.post("slack:T0GRIDC:C7", message, "2-2026-11-30")
    sent = {c.params["channel"]: c.token for c in fake_slack.calls_to("chat.postMessage")}
    assert sent == {"C0GRID": "xoxb-org", "C7": "xoxb-grid-ws"}
