"""Running the adapter: `roadmap-bot serve` with DISCORD_TOKEN, and `ask --format discord`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from fakes.discord_server import FakeDiscord
from roadmap_bot.app import open_app
from roadmap_bot.cli import main
from roadmap_bot.config import ConfigError, load_settings
from roadmap_bot.serve import serve


def settings_for(fake: FakeDiscord, db: Path, token: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": token,
        "DISCORD_GUILD_ID": str(fake.guild.id),
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
        "ROADMAP_DB": str(db),
        "ROADMAP_HTTP_HOST": "127.0.0.1",
        "ROADMAP_HTTP_PORT": "0",  # /healthz and /metrics on any free port
    }


@pytest.fixture
def real_endpoints() -> None:
    # As in production: only the settings may point discord.py at the fake.
    Route.BASE = "https://discord.com/api/v10"
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("wss://gateway.discord.gg/")


async def test_serve_runs_discord_when_a_token_is_set(
    fake: FakeDiscord, db_path: Path, real_endpoints: None
) -> None:
    settings = load_settings(**settings_for(fake, db_path, fake.token))
    async with open_app(settings) as app:
        task = asyncio.create_task(serve(app))
        await fake.wait_identified()
        assert fake.syncs == [str(fake.guild.id)]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_rejected_token_stops_start_up_with_a_clear_message(
    fake: FakeDiscord, db_path: Path, real_endpoints: None
) -> None:
    settings = load_settings(**settings_for(fake, db_path, "not-the-token"))
    async with open_app(settings) as app:
        with pytest.raises(ConfigError) as caught:
            await serve(app)
    assert "DISCORD_TOKEN was rejected" in str(caught.value)
    assert "not-the-token" not in str(caught.value)


def test_ask_prints_the_discord_payload(
    monkeypatch: pytest.MonkeyPatch, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROADMAP_DB", str(db_path))
    assert main(["ask", "--format", "discord", "project", "redis"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["embeds"][0]["title"] == "Redis"
    assert payload["flags"] == 64
    labels = [b["label"] for row in payload["components"] for b in row["components"]]
    assert labels[0] == "Mark done" and "Share to channel" in labels

    assert main(["ask", "--format", "discord", "projetc", "redis"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["embeds"][0]["title"].startswith("I don't know the command")


def test_ask_does_not_import_discord(tmp_path: Path) -> None:
    code = (
        "import sys; from roadmap_bot.cli import main; "
        "main(['ask', 'next']); main(['ask', '--format', 'discord', 'next']); "
        "print('discord loaded:', 'discord' in sys.modules)"
    )
    env = {"ROADMAP_DB": str(tmp_path / "db.sqlite"), "PATH": os.environ.get("PATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("discord loaded: False")
