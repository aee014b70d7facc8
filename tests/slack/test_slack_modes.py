"""Running Slack: Socket Mode, HTTP mode under `roadmap-bot serve`, configuration, the CLI preview."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from fakes.slack_api import FakeSlack
from fakes.slack_driver import assert_valid, make_settings
from fakes.slack_requests import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    button_click,
    button_labeled,
    form,
    post_to_serve,
    slash_command,
    visible_text,
)
from roadmap_bot.adapters.slack.app import SlackAdapter
from roadmap_bot.adapters.slack.server import serving, slack_mode
from roadmap_bot.chat.core import Roadmap
from roadmap_bot.config import ConfigError
from roadmap_bot.groups.study_groups import StudyGroups


@pytest.fixture
async def socket_adapter(
    roadmap: Roadmap, groups: StudyGroups, fake_slack: FakeSlack, tmp_path: Path
) -> AsyncIterator[tuple[SlackAdapter, str]]:
    settings = make_settings(
        fake_slack, tmp_path, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET=None
    )
    async with (
        SlackAdapter(roadmap, settings) as adapter,
        serving(adapter, settings, host="127.0.0.1", port=0) as (host, port),
    ):
        yield adapter, f"http://{host}:{port}"


async def test_socket_mode_answers_commands_and_clicks(
    socket_adapter: tuple[SlackAdapter, str], fake_slack: FakeSlack
) -> None:
    adapter, base = socket_adapter
    [opened] = fake_slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN  # the app token opens the socket, the bot token posts
    payload = slash_command("project etcd", response_url=fake_slack.response_url("s1"))
    ack = await fake_slack.socket_send("slash_commands", payload)
    assert ack["envelope_id"]
    card = ack["payload"]  # a fast answer rides in the ack, over the socket too
    await adapter.idle()
    assert fake_slack.responses("s1") == []
    assert_valid(card)
    assert card["blocks"][0]["text"]["text"] == "etcd"
    click = button_click(
        button_labeled(card, "Mark done"), response_url=fake_slack.response_url("s2")
    )
    await fake_slack.socket_send("interactive", click)
    await adapter.idle()
    [done] = fake_slack.responses("s2")
    assert "Marked etcd as done" in done["text"]
    async with aiohttp.ClientSession() as http, http.get(base + "/healthz") as health:
        assert health.status == 200
        assert await health.json() == {"ok": True, "mode": "socket"}
        # Socket Mode serves no events endpoint: nothing can reach the app over HTTP.
        async with http.post(base + "/slack/events", data="x") as events:
            assert events.status in (404, 405)


def test_slack_mode_is_chosen_from_the_settings(fake_slack: FakeSlack, tmp_path: Path) -> None:
    assert slack_mode(make_settings(fake_slack, tmp_path)) == "http"
    socket = make_settings(fake_slack, tmp_path, SLACK_APP_TOKEN=APP_TOKEN)
    assert slack_mode(socket) == "socket"
    neither = make_settings(fake_slack, tmp_path, SLACK_SIGNING_SECRET=None)
    with pytest.raises(ConfigError, match=r"SLACK_SIGNING_SECRET.*SLACK_APP_TOKEN"):
        slack_mode(neither)
    wrong = make_settings(fake_slack, tmp_path, SLACK_APP_TOKEN="xoxb-not-an-app-token")
    with pytest.raises(ConfigError, match="xapp-") as refused:
        slack_mode(wrong)
    assert "xoxb-not-an-app-token" not in str(refused.value)


# -- the roadmap-bot command ------------------------------------------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    env["ROADMAP_DB"] = str(tmp_path / "cli.db")
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roadmap_bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path, **env),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )


def test_ask_format_slack_prints_the_block_kit_message(tmp_path: Path) -> None:
    done = _run(tmp_path, "ask", "--format", "slack", "path", "web-development")
    assert done.returncode == 0, done.stderr
    message = json.loads(done.stdout)
    assert_valid(message)
    assert message["blocks"][0]["text"]["text"] == "Web Development"
    wrong = _run(tmp_path, "ask", "--format", "slack", "kuberntes")
    assert wrong.returncode == 2
    assert button_labeled(json.loads(wrong.stdout), "project kubernetes")


def test_ask_never_loads_a_chat_platform_library(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from roadmap_bot.cli import main\n"
        "for fmt in ('text', 'json', 'slack'):\n"
        "    main(['ask', '--format', fmt, 'project', 'redis'])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('slack_bolt', 'slack_sdk', 'slack', 'discord')), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_serve_refuses_a_slack_setup_that_cannot_work(tmp_path: Path) -> None:
    done = _run(tmp_path, "serve", SLACK_BOT_TOKEN=BOT_TOKEN)
    assert done.returncode == 1
    assert "SLACK_SIGNING_SECRET" in done.stderr and "SLACK_APP_TOKEN" in done.stderr
    assert BOT_TOKEN not in done.stderr + done.stdout


async def test_serve_answers_slack_over_http(tmp_path: Path, fake_slack: FakeSlack) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roadmap_bot",
        "serve",
        env=_env(
            tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake_slack.api_url,
            ROADMAP_REPORT_URL=fake_slack.url + "/oss/{name}.md",  # never the internet
            ROADMAP_HTTP_HOST="127.0.0.1",
            ROADMAP_HTTP_PORT="0",
        ),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        port = None
        seen = []
        while port is None:
            line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
            assert line, "serve exited: " + "".join(seen)
            seen.append(line)
            found = re.search(r"POST /slack/events on 127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else None
        body = form(slash_command("next", response_url=fake_slack.response_url("serve")))
        answer = await post_to_serve(port, body)
        assert_valid(answer)
        assert visible_text(answer).startswith("Read next:")
        assert [c.token for c in fake_slack.calls_to("auth.test")] == [BOT_TOKEN]
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def test_health_checks_the_slack_endpoint(tmp_path: Path) -> None:
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    application.router.add_get("/healthz", healthz)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]

    async def health(at: int) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "roadmap_bot",
            "health",
            env=_env(
                tmp_path,
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                ROADMAP_HTTP_PORT=str(at),
            ),
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, out.decode()

    code, out = await health(port)
    assert code == 0 and f"/healthz on port {port} answers" in out
    await runner.cleanup()
    code, out = await health(port)  # the server is gone
    assert code == 1 and out.startswith(f"unhealthy: nothing answers on port {port}")
