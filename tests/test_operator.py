"""What an operator sees at the edges: version, configuration mistakes, oversized input,
a busy or corrupt database. Each runs the real `roadmap-bot` in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from roadmap_bot import __version__
from roadmap_bot.app import open_app
from roadmap_bot.config import load_settings


def offline_report_url() -> str:
    """Report fetches to a loopback port nobody listens on: refused at once, never online."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{{name}}.md"


def environment(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    env["ROADMAP_DB"] = str(tmp_path / "operator.db")
    env["ROADMAP_REPORT_URL"] = offline_report_url()
    env.update(more)
    return env


def run(
    *args: str, tmp_path: Path, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roadmap_bot", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(tmp_path, **env),
        cwd=tmp_path,  # so a developer's .env is not read
    )


def test_version(tmp_path: Path) -> None:
    done = run("--version", tmp_path=tmp_path)
    assert done.returncode == 0
    assert done.stdout == f"roadmap-bot {__version__}\n"


@pytest.mark.parametrize(
    "variable",
    [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_CLIENT_SECRET",
        "DISCORD_TOKEN",
        "ROADMAP_WEB_SECRET",
    ],
)
def test_an_empty_secret_is_a_configuration_error(tmp_path: Path, variable: str) -> None:
    done = run("serve", tmp_path=tmp_path, **{variable: ""})
    assert done.returncode == 1
    assert done.stderr == (
        f"roadmap-bot: bad configuration: {variable}: is set but empty: give it a value, "
        "or remove the line to leave it unset\n"
    )


def test_an_over_long_zone_in_the_settings_is_a_configuration_error(tmp_path: Path) -> None:
    done = run("ask", "help", tmp_path=tmp_path, ROADMAP_TIMEZONE="Europe/" + "x" * 300)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "roadmap-bot: bad configuration: ROADMAP_TIMEZONE: is 307 characters long; "
        "no IANA time zone is over 64"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("given", ["2", "7200", "two minutes", "nan", ""])
def test_a_lease_length_out_of_range_is_a_configuration_error(tmp_path: Path, given: str) -> None:
    done = run("digest", "run-due", tmp_path=tmp_path, ROADMAP_LEASE_SECONDS=given)
    assert done.returncode == 1
    assert done.stderr == (
        "roadmap-bot: bad configuration: ROADMAP_LEASE_SECONDS: must be a number of seconds "
        "from 5 to 3600 (default 120): how long a replica that died keeps its digests before "
        f"the others take them over (got {given!r})\n"
    )


async def test_a_lease_length_in_range_is_the_deliverers_lease(tmp_path: Path) -> None:
    assert load_settings(_env_file=None).lease_seconds == 120
    settings = load_settings(
        _env_file=None, ROADMAP_LEASE_SECONDS="30", ROADMAP_DB=str(tmp_path / "x.db")
    )
    async with open_app(settings) as app:
        # renewed every quarter of it, as the 2-minute default is every 30 s
        assert (app.deliverer.lease, app.deliverer.renew_every) == (timedelta(seconds=30), 7.5)


def test_a_300_character_zone_gets_an_answer_and_the_console_goes_on(tmp_path: Path) -> None:
    zone = "Europe/" + "B" * 293
    done = run(
        "console",
        "--channel",
        "study",
        tmp_path=tmp_path,
        stdin=f"subscribe beginner tz {zone}\nsubscribe beginner on {'x' * 300}\nschedule\n",
    )
    assert done.returncode == 0, done.stderr
    shown = "'Europe/" + "B" * 32 + "…'"
    assert f"{shown} is 300 characters long: not an IANA time zone" in done.stdout
    assert f"'{'x' * 39}…' is not a weekday (monday ... sunday)." in done.stdout
    assert zone not in done.stdout  # the answer does not echo the whole thing back
    assert "This channel has no weekly digest." in done.stdout  # the console still answers
    assert done.stderr == ""
