"""One platform's trouble never stops the others: a real `serve` with Slack and Discord."""

from __future__ import annotations

from pathlib import Path

from fakes.discord_server import FakeDiscord, FakeUser, snowflake
from fakes.slack_api import FakeSlack
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
