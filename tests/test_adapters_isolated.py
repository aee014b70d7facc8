"""One platform's trouble never stops the others: a real `serve` with Slack and Discord."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fakes.discord_server import FakeDiscord, FakeUser, snowflake
from fakes.slack_api import FakeSlack
from roadmap_bot.adapters.supervisor import AdapterStates, backoff, supervise
from roadmap_bot.config import ConfigError
from test_serve_process import SERVING, slack_env, slash, start_serve
from test_serve_process import fake_slack as fake_slack  # the fixture, a Slack for serve


async def test_an_unreadable_discord_interaction_is_skipped_and_serve_goes_on(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    alice = FakeUser(snowflake(), "alice")
    async with FakeDiscord() as discord:
        served = await start_serve(
            tmp_path,
            slack_env(
                fake_slack,
                DISCORD_TOKEN=discord.token,
                DISCORD_API_URL=discord.api_url,
                DISCORD_GATEWAY_URL=discord.gateway_url,
                DISCORD_GUILD_ID=str(discord.guild.id),
            ),
        )
        port = int((await served.wait_for(SERVING)).group(1))
        await discord.wait_identified()
        # A button click discord.py cannot read: its 'data' field is missing.
        broken = snowflake()
        await discord.dispatch(
            "INTERACTION_CREATE",
            {
                "id": str(broken),
                "application_id": str(discord.application_id),
                "type": 3,
                "token": f"interaction-token-{broken}",
                "version": 1,
                "attachment_size_limit": 10 * 1024 * 1024,
                "guild_id": str(discord.guild.id),
                "channel_id": str(discord.guild.channel.id),
                "member": alice.member(),
            },
        )
        await served.wait_for("skipped a Discord INTERACTION_CREATE event")
        # Discord itself, Slack and the process go on.
        shown = await (await discord.slash("project", {"name": "redis"}, user=alice)).answer()
        assert shown.title == "Redis"
        assert "Redis" in str(await slash(port, fake_slack, "project redis"))
        assert served.process.returncode is None
        code, _ = await served.stop()
    assert code == 0, served.log
    skipped = [line for line in served.log.splitlines() if "skipped a Discord" in line]
    assert len(skipped) == 1, served.log
    assert "WARNING" in skipped[0] and "(type 3)" in skipped[0] and "no field 'data'" in skipped[0]
    assert "Traceback" not in served.log
    assert "interaction-token-" not in served.log


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as answer,
    ):
        return answer.status, dict(await answer.json())


async def test_discord_failures_are_retried_with_backoff_while_slack_answers(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    alice = FakeUser(snowflake(), "alice")
    async with FakeDiscord() as discord:
        # Discord's API loses its answers at start: the digest poster's login (serve
        # waits for Discord rather than exiting), then the client's first two logins
        # (aiohttp tries a lost answer twice: two drops a login).
        logins = discord.script("GET", r"/users/@me", drop=True, times=6)
        served = await start_serve(
            tmp_path,
            slack_env(
                fake_slack,
                DISCORD_TOKEN=discord.token,
                DISCORD_API_URL=discord.api_url,
                DISCORD_GATEWAY_URL=discord.gateway_url,
                DISCORD_GUILD_ID=str(discord.guild.id),
            ),
        )
        port = int((await served.wait_for(SERVING)).group(1))
        await served.wait_for("discord stopped: ServerDisconnectedError")
        # Slack answers, and /healthz is ready and says what Discord is doing.
        assert "Redis" in str(await slash(port, fake_slack, "project redis"))
        status, health = await healthz(port)
        assert status == 200, health
        assert health["adapters"]["slack"] == "ok"
        assert health["adapters"]["discord"].startswith("connecting (retry ")
        assert "ServerDisconnectedError" in health["adapters"]["discord"]

        await discord.wait_identified(1, timeout=30)
        assert logins.times == 0
        shown = await (await discord.slash("project", {"name": "redis"}, user=alice)).answer()
        assert shown.title == "Redis"
        status, health = await healthz(port)
        assert (status, health["adapters"]) == (200, {"slack": "ok", "discord": "ok"})

        # A gateway frame discord.py cannot read ends that client: a new one connects.
        await discord.send_raw("this is not JSON")
        await served.wait_for("discord stopped: JSONDecodeError")
        await discord.wait_identified(2, timeout=30)
        assert "Redis" in str(await slash(port, fake_slack, "project redis"))
        again = await discord.slash("project", {"name": "kafka"}, user=alice)
        assert (await again.answer()).title == "Apache Kafka"
        # A dropped connection is resumed by discord.py itself.
        await discord.drop_connection(4000)
        await discord.wait_resumed(1, timeout=30)
        resumed = await discord.slash("project", {"name": "etcd"}, user=alice)
        assert (await resumed.answer()).title == "etcd"
        # Refused on the way back (503), discord.py waits and tries again by itself,
        # saying so in one WARNING line.
        discord.refuse_gateway(1)
        await discord.drop_connection(4000)
        await discord.wait_resumed(2, timeout=30)
        closed = await discord.slash("project", {"name": "caddy"}, user=alice)
        assert (await closed.answer()).title == "Caddy"
        assert [len(s.callbacks) for s in (again, resumed, closed)] == [1, 1, 1]  # once each
        assert served.process.returncode is None
        code, _ = await served.stop()
    assert code == 0, served.log
    stopped = [line for line in served.log.splitlines() if "discord stopped:" in line]
    assert len(stopped) == 3, served.log  # one line per failure
    # Backoff grows with each failure (a client that ran two minutes would start over).
    assert [re.search(r"\(retry (\d)\)", line).group(1) for line in stopped] == ["1", "2", "3"]
    assert "JSONDecodeError at gateway.py:" in stopped[2]
    assert "could not log in to Discord's API" in served.log  # the poster waits, said once
    assert discord.token not in served.log and "interaction-token-" not in served.log
    assert "this is not JSON" not in served.log  # what failed, never what it said
    (reconnect,) = [line for line in served.log.splitlines() if "Attempting a reconnect" in line]
    assert " WARNING discord.client: " in reconnect
    assert "after WSServerHandshakeError (HTTP 503) at " in reconnect
    assert "Traceback" not in served.log


# -- the supervisor on its own ------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]:
        delays = {backoff(retry, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (retry, delays)
        assert len(delays) > 1  # jittered: replicas do not come back in step


async def test_a_failing_adapter_is_started_again_until_a_configuration_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    states = AdapterStates(clock=lambda: now[0])
    state = states["discord"]
    failures: list[BaseException] = [
        KeyError("data"),
        ValueError("a payload with interaction-token-123 in it"),
        ConfigError("DISCORD_TOKEN was rejected by Discord"),
    ]
    shown: list[str] = []

    async def run() -> None:
        raise failures.pop(0)

    async def sleep(delay: float) -> None:
        shown.append(states.report()["discord"])
        now[0] += delay

    with pytest.raises(ConfigError, match="DISCORD_TOKEN was rejected"):
        await supervise(
            "discord", run, state, fatal=(ConfigError,), sleep=sleep, rng=random.Random(1)
        )
    assert shown[0].startswith("connecting (retry 1 in 1 s; last problem: KeyError (no field")
    assert shown[1].startswith("connecting (retry 2 in 2 s; last problem: ValueError at ")
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("supervisor")]
    assert len(lines) == 2 and all(line.startswith("discord stopped: ") for line in lines)
    assert "interaction-token" not in caplog.text  # the exception's text is never logged
    state.connected()
    assert states.report() == {"discord": "ok"}


async def test_a_rejected_discord_token_is_a_configuration_error_that_ends_serve(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    async with FakeDiscord() as discord:
        # The digest poster logs in first; the gateway client's login is then refused
        # (a token reset in the Developer Portal meanwhile): no retrying that.
        discord.script("GET", r"/users/@me", times=1)
        discord.fail("GET", r"/users/@me", 401, body={"message": "401: Unauthorized", "code": 0})
        served = await start_serve(
            tmp_path,
            slack_env(
                fake_slack,
                DISCORD_TOKEN=discord.token,
                DISCORD_API_URL=discord.api_url,
                DISCORD_GATEWAY_URL=discord.gateway_url,
            ),
        )
        code = await asyncio.wait_for(served.process.wait(), 30)
        await served._reader
    assert code == 1, served.log
    assert served.lines[-1] == (
        "roadmap-bot: DISCORD_TOKEN was rejected by Discord: copy the bot token again from the "
        "Developer Portal (Bot > Reset Token)\n"
    )
    assert "discord stopped" not in served.log  # not retried: the settings must change
    assert "Traceback" not in served.log and discord.token not in served.log
