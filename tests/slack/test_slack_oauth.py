"""Installs by OAuth into many Slack workspaces, through real HTTP requests to a running app.

A browser (an aiohttp session with a cookie jar) opens /slack/install, follows the
link to the fake Slack's consent page, which approves and redirects back to
/slack/oauth_redirect with a code and the state; the app trades the code for the
workspace's bot token and keeps it in the bot's database. Each workspace's commands,
Home tab and digests then use that workspace's token; uninstalling pauses its digests.
"""

from __future__ import annotations

import html
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from fakes.slack_api import FakeSlack
from fakes.slack_driver import SlackDriver
from fakes.slack_requests import SIGNING_SECRET, form, home_opened, slash_command
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.slack.api import retry_handlers
from roadmap_bot.adapters.slack.app import SlackAdapter
from roadmap_bot.adapters.slack.server import serving, slack_adapter
from roadmap_bot.adapters.slack.tokens import UNINSTALLED
from roadmap_bot.app import App, open_app, platform_posters
from roadmap_bot.chat.core import Asker
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import ConfigError, load_settings

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday after the tests' NOW, UTC
SECOND_DUE = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def offline_report_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{{name}}.md"


@dataclass
class Installed:
    app: App
    adapter: SlackAdapter
    slack: SlackDriver
    browser: aiohttp.ClientSession
    fake: FakeSlack

    async def install(self, team: str) -> tuple[int, str]:
        """An admin of ``team`` installs the app: install page, consent, redirect back."""
        async with self.browser.get(f"{self.slack.base}/slack/install?team={team}") as page:
            assert page.status == 200
            link = re.search(r'<a href="([^"]+)"', await page.text())
        assert link is not None
        consent = html.unescape(link.group(1))
        assert consent.startswith(self.fake.authorize_url)
        async with self.browser.get(consent) as done:  # Slack redirects back to the app
            return done.status, await done.text()

    def token_of(self, team: str) -> str:
        """The newest bot token Slack issued for the workspace."""
        return [t for t, owner in self.fake.token_teams.items() if owner == team][-1]

    async def event(self, payload: dict[str, object]) -> None:
        response = await self.slack.post(json.dumps(payload), json_body=True)
        assert response.status == 200
        await self.adapter.idle()


@pytest.fixture
async def oauth(tmp_path: Path, clock: FixedClock) -> AsyncIterator[Installed]:
    async with FakeSlack(tokens=set()) as fake:  # only tokens issued by installs work
        fake.users["U1"] = {"id": "U1", "name": "alice", "tz": "UTC"}
        fake.now = lambda: clock.now().timestamp()
        settings = load_settings(
            _env_file=None,
            SLACK_CLIENT_ID=fake.client_id,
            SLACK_CLIENT_SECRET=fake.client_secret,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            SLACK_AUTHORIZE_URL=fake.authorize_url,
            ROADMAP_DB=str(tmp_path / "bot.db"),
            ROADMAP_REPORT_URL=offline_report_url(),
        )
        async with open_app(settings, clock=clock) as app, platform_posters(app):
            app.deliverer.sleep = Sleeps()
            adapter = slack_adapter(app, handlers=retry_handlers(sleep=Sleeps()))
            async with (
                adapter,
                serving(adapter, settings, host="127.0.0.1", port=0) as (host, port),
                aiohttp.ClientSession() as http,
            ):
                base = f"http://{host}:{port}"
                fake.redirect_url = f"{base}/slack/oauth_redirect"
                # A browser: keeps the state cookie (secure, on a plain-HTTP test origin).
                jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[base])
                async with aiohttp.ClientSession(cookie_jar=jar) as browser:
                    yield Installed(
                        app, adapter, SlackDriver(http, base, adapter, fake), browser, fake
                    )


def uninstalled(team: str) -> dict[str, object]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A1",
        "event": {"type": "app_uninstalled", "event_ts": "1700000000.3"},
        "type": "event_callback",
        "event_id": f"Ev-{team}",
        "event_time": 1700000000,
    }


async def test_two_workspaces_install_use_their_own_tokens_and_one_uninstalls(
    oauth: Installed,
) -> None:
    fake, slack, app = oauth.fake, oauth.slack, oauth.app
    for team in ("T1", "T2"):
        status, page = await oauth.install(team)
        assert status == 200, page
    one, two = oauth.token_of("T1"), oauth.token_of("T2")
    assert one != two
    authorize = fake.calls_to("oauth.authorize")
    assert {a.params["scope"] for a in authorize} == {
        "commands,users:read,chat:write,chat:write.public,channels:history,groups:history"
    }
    assert len(fake.calls_to("oauth.v2.access")) == 2

    # Commands in each workspace: the profile lookups use that workspace's token.
    for team, channel in (("T1", "C1"), ("T2", "C2")):
        reply = await slack.command("subscribe beginner", team=team, channel=channel)
        assert "every Monday at 09:00 (UTC)" in reply["text"]
    assert [c.token for c in fake.calls_to("users.info")] == [one, two]
    await oauth.event(home_opened(user="U1", team="T2"))
    assert [c.token for c in fake.calls_to("views.publish")] == [two]

    # The weekly digests: each channel gets its post with its own workspace's token.
    summary = await app.deliverer.run_due(FIRST_DUE)
    assert summary.line() == "delivered 2, already delivered 0, failed 0"
    posted = {c.params["channel"]: c.token for c in fake.calls_to("chat.postMessage")}
    assert posted == {"C1": one, "C2": two}

    # T2 uninstalls: its installation is gone and its digest pauses with the reason.
    fake.uninstall("T2")
    await oauth.event(uninstalled("T2"))
    calls_at_uninstall = len(fake.calls)
    assert oauth.adapter.installs is not None
    gone = await oauth.adapter.installs.installations.async_find_bot(
        enterprise_id=None, team_id="T2"
    )
    assert gone is None
    there = Asker(id="slack:T2:U1", name="alice", channel="slack:T2:C2")
    schedule = await app.roadmap.ask("schedule", there)
    assert UNINSTALLED in str(schedule.model_dump())
    calls_before = len(fake.calls_to("chat.postMessage"))
    summary = await app.deliverer.run_due(SECOND_DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"
    after = fake.calls_to("chat.postMessage")[calls_before:]
    assert {c.params["channel"] for c in after} == {"C1"}  # T1 is not affected
    assert all(c.token == one for c in after)
    assert two not in {c.token for c in fake.calls[calls_at_uninstall:]}  # never used again

    # A command from T2 now gets Slack's reinstall hint, never a traceback.
    url = slack.new_response_url()
    response = await slack.post(form(slash_command("next", response_url=url, team="T2")))
    assert response.status == 200
    name = url.rsplit("/", 1)[-1]
    [told] = await fake.wait_for("response_url", where=lambda c: c.path.endswith(f"/{name}"))
    assert "reinstall" in str(told.params).lower()  # Bolt's hint, through the response_url

    # Installing again resumes the paused digest, with the new token.
    status, _ = await oauth.install("T2")
    assert status == 200
    again = oauth.token_of("T2")
    assert again != two
    schedule = await app.roadmap.ask("schedule", there)
    assert UNINSTALLED not in str(schedule.model_dump())


async def test_a_workspace_token_is_checked_with_slack_once_not_per_command(
    oauth: Installed,
) -> None:
    """Bolt asks Slack's auth.test about the workspace's token before a command runs; a
    round trip to Slack in every ack unless the answer is kept. It is kept per token:
    an uninstalled workspace is refused all the same, and its next install's new token
    is asked about once again."""
    fake, slack = oauth.fake, oauth.slack
    assert (await oauth.install("T1"))[0] == 200
    one = oauth.token_of("T1")
    installed = len(fake.calls_to("auth.test"))  # the install itself asks once
    for words in ("next", "beginner", "project redis"):
        reply = await slack.command(words, team="T1", channel="C1")
        assert reply["text"]
    assert [c.token for c in fake.calls_to("auth.test")[installed:]] == [one]

    fake.uninstall("T1")
    await oauth.event(uninstalled("T1"))
    url = slack.new_response_url()
    response = await slack.post(form(slash_command("next", response_url=url, team="T1")))
    assert response.status == 200
    name = url.rsplit("/", 1)[-1]
    [told] = await fake.wait_for("response_url", where=lambda c: c.path.endswith(f"/{name}"))
    assert "reinstall" in str(told.params).lower()

    assert (await oauth.install("T1"))[0] == 200
    again = oauth.token_of("T1")
    installed = len(fake.calls_to("auth.test"))
    for words in ("next", "beginner"):
        reply = await slack.command(words, team="T1", channel="C1")
        assert reply["text"]
    assert [c.token for c in fake.calls_to("auth.test")[installed:]] == [again]


async def test_the_redirect_without_the_installers_cookie_installs_nothing(
    oauth: Installed,
) -> None:
    async with oauth.browser.get(f"{oauth.slack.base}/slack/install?team=T3") as page:
        link = re.search(r'<a href="([^"]+)"', await page.text())
    assert link is not None
    async with (
        aiohttp.ClientSession() as stranger,  # another browser: no state cookie
        stranger.get(html.unescape(link.group(1))) as done,
    ):
        assert done.status == 400
    assert oauth.fake.calls_to("oauth.v2.access") == []
    assert oauth.adapter.installs is not None
    nothing = await oauth.adapter.installs.installations.async_find_bot(
        enterprise_id=None, team_id="T3"
    )
    assert nothing is None


def test_oauth_settings_that_cannot_work_are_refused(tmp_path: Path) -> None:
    from roadmap_bot.adapters.slack.server import slack_mode

    base = {"SLACK_CLIENT_ID": "1.2", "ROADMAP_DB": str(tmp_path / "x.db")}
    settings = load_settings(_env_file=None, **base, SLACK_BOT_TOKEN="xoxb-1")
    with pytest.raises(ConfigError) as refused:
        slack_mode(settings)
    message = str(refused.value)
    assert "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set" in message
    assert "SLACK_CLIENT_SECRET is needed" in message
    assert "need SLACK_SIGNING_SECRET" in message
    assert "xoxb-1" not in message


def test_installs_live_in_the_bots_own_database(tmp_path: Path) -> None:
    from roadmap_bot.adapters.slack.installs import database_url
    from roadmap_bot.config import load_settings

    server = load_settings(ROADMAP_DATABASE_URL="postgresql://bot:s3cret@db:5432/roadmap")
    assert database_url(server) == "postgresql+asyncpg://bot:s3cret@db:5432/roadmap"
    file = load_settings(ROADMAP_DB=str(tmp_path / "bot.db"))
    assert database_url(file) == f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


async def test_an_org_wide_grid_install_keys_channels_by_enterprise_and_uninstalls_whole(
    oauth: Installed,
) -> None:
    from slack_sdk.oauth.installation_store import Installation

    from fakes.slack_fixtures import command, event, users

    fake, slack, app = oauth.fake, oauth.slack, oauth.app
    fake.users.update(users())
    assert fake.tokens is not None and oauth.adapter.installs is not None
    fake.tokens.add("xoxb-org")
    await oauth.adapter.installs.installations.async_save(
        Installation(
            app_id="A1",
            enterprise_id="E0GRID",
            enterprise_name="Globex",
            team_id=None,
            bot_token="xoxb-org",
            bot_id="B1",
            bot_user_id="UBOT",
            user_id="UINSTALLER",
            is_enterprise_install=True,
        )
    )
    made = await command(slack, "command_grid_org_wide", "subscribe beginner")  # workspace A
    assert "every Monday at 09:00 (Asia/Tokyo)" in made["text"]
    assert {c.token for c in fake.calls_to("users.info")} == {"xoxb-org"}
    seen = await command(slack, "command_grid_workspace_b", "schedule")  # workspace B
    assert "Weekly digest: the beginner level" in seen["text"]

    summary = await app.deliverer.run_due(FIRST_DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"
    [post] = fake.calls_to("chat.postMessage")[:1]
    assert (post.params["channel"], post.token) == ("C0GRID", "xoxb-org")

    # The organization uninstalls: its installation goes, its channels' digests pause.
    await event(slack, "event_app_uninstalled_grid")
    gone = await oauth.adapter.installs.installations.async_find_bot(
        enterprise_id="E0GRID", team_id=None, is_enterprise_install=True
    )
    assert gone is None
    there = Asker(id="slack:E0GRID:W0GRACE", name="grace", channel="slack:E0GRID:C0GRID")
    schedule = await app.roadmap.ask("schedule", there)
    # the organization removed it, not one of its workspaces: the reason says so
    assert "uninstalled from this Slack organization" in str(schedule.model_dump())
    # and installing it again org-wide resumes the digest
    assert oauth.adapter.on_installed is not None
    await oauth.adapter.on_installed("E0GRID")
    schedule = await app.roadmap.ask("schedule", there)
    assert "uninstalled" not in str(schedule.model_dump())


async def test_a_slack_connect_channel_both_sides_installed_has_one_subscription(
    oauth: Installed,
) -> None:
    fake, slack, app = oauth.fake, oauth.slack, oauth.app
    for team in ("T1", "T2"):
        status, page = await oauth.install(team)
        assert status == 200, page
    fake.users["U1"] = {"id": "U1", "name": "alice", "tz": "UTC", "team_id": "T1"}
    fake.users["U2"] = {"id": "U2", "name": "bob", "tz": "UTC", "team_id": "T2", "is_admin": True}
    shared = {"channel": "C0SHARED"}
    made = await slack.command("subscribe beginner", team="T1", **shared)
    assert "every Monday at 09:00 (UTC)" in made["text"]

    # bob's requests come through his own organization's installation (T2)...
    seen = await slack.command("schedule", team="T2", user="U2", user_name="bob", **shared)
    assert "Weekly digest: the beginner level" in seen["text"]
    for text in ("unsubscribe", "subscribe web-development"):
        refused = await slack.command(text, team="T2", user="U2", user_name="bob", **shared)
        said = json.dumps(refused)
        assert "You are a member of another organization in this shared channel" in said
        assert "ask an admin of Team T1" in said

    summary = await app.deliverer.run_due(FIRST_DUE)
    assert summary.line() == "delivered 1, already delivered 0, failed 0"
    posted = [(c.params["channel"], c.token) for c in fake.calls_to("chat.postMessage")]
    assert posted[:1] == [("C0SHARED", oauth.token_of("T1"))]
    assert [c for c, _ in posted].count("C0SHARED") == 2  # the post and its thread reply
