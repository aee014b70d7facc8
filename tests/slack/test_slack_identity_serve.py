"""A real `serve` with one Slack token on a database from before revision 0005: the
Slack Connect channel that was subscribed from both sides has one subscription once
auth.test has named the installation, and the other organization's admin is refused."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fakes.slack_api import FakeSlack
from fakes.slack_fixtures import load, users
from fakes.slack_requests import BOT_TOKEN, form, post_to_serve, visible_text
from roadmap_bot.store import schema as t
from store.test_slack_identity_migration import add_rows, database_at_0004, subscription_row
from test_serve_process import SERVING, slack_env, start_serve

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(tokens={BOT_TOKEN}) as fake:  # auth.test: workspace T1
        fake.users.update(users())
        yield fake


async def _send(port: int, fake: FakeSlack, text: str) -> dict[str, object]:
    body = form(load("command_connect_external", text=text, response_url=fake.response_url()))
    return await post_to_serve(port, body)


async def test_serve_adopts_its_installation_and_the_shared_channel_has_one_digest(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    path = tmp_path / "before-0005.db"
    db = await database_at_0004(str(path))
    await add_rows(
        db,
        t.subscriptions,
        subscription_row(1, "slack:T1:C0SHARED", "slack:T1:U1", T0),
        subscription_row(2, "slack:T0EXT:C0SHARED", "slack:T0EXT:U0EVE", T0.replace(hour=10)),
    )
    await db.close()

    served = await start_serve(tmp_path, slack_env(fake_slack, ROADMAP_DB=str(path)))
    try:
        port = int((await served.wait_for(SERVING)).group(1))
        await served.wait_for("Slack ids of installation T1: 0 people and 1 channels moved")
        seen = await _send(port, fake_slack, "schedule")
        assert "Weekly digest: the beginner level" in visible_text(seen)
        refused = await _send(port, fake_slack, "unsubscribe")
        said = visible_text(refused)
        assert "You are a member of another organization in this shared channel" in said
        assert "ask an admin of Fake Team" in said
        code, _ = await served.stop()
        assert code == 0
    finally:
        if served.process.returncode is None:
            served.process.kill()
    rows = sqlite3.connect(path).execute(
        "SELECT id, channel, ended_at IS NULL FROM subscriptions ORDER BY id"
    )
    assert rows.fetchall() == [(1, "slack:T1:C0SHARED", 1), (2, "slack:T1:C0SHARED", 0)]
