"""`roadmap-bot serve` as an operator runs it: a real process, fake Slack and Discord on
127.0.0.1, signals, a busy or corrupt database, credentials that are missing or wrong."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import signal
import sqlite3
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from fakes.discord_server import FakeDiscord, FakeUser, snowflake
from fakes.slack_api import FakeSlack
from fakes.slack_requests import (
    BOT_TOKEN,
    SIGNING_SECRET,
    button_click,
    button_labeled,
    form,
    interactive_form,
    post_to_serve,
    signed_headers,
    slash_command,
)
from test_operator import environment, run

SERVING = re.compile(r"Slack HTTP mode: POST /slack/events on 127\.0\.0\.1:(\d+)")


class Served:
    """A running `roadmap-bot serve`, its stderr collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode("utf-8", "replace"))

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def wait_for(
        self, pattern: re.Pattern[str] | str, timeout: float = 30.0
    ) -> re.Match[str]:
        found = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                match = found.search(line)
                if match:
                    return match
            if self.process.returncode is not None and self._reader.done():
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {found.pattern!r} in the log:\n{self.log}")

    async def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        """Send ``signum``; the exit code and the seconds it took."""
        started = time.monotonic()
        self.process.send_signal(signum)
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return code, time.monotonic() - started


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(tokens={BOT_TOKEN}) as fake:
        fake.users["U1"] = {"id": "U1", "name": "alice", "tz": "UTC"}
        yield fake


def slack_env(fake: FakeSlack, **more: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "ROADMAP_HTTP_HOST": "127.0.0.1",
        "ROADMAP_HTTP_PORT": "0",
        **more,
    }


async def start_serve(tmp_path: Path, env: dict[str, str]) -> Served:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roadmap_bot",
        "serve",
        stdin=subprocess.DEVNULL,  # no terminal: no console
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment(tmp_path, **env),
        cwd=tmp_path,
    )
    return Served(process)


async def slash(port: int, fake: FakeSlack, text: str) -> dict[str, object]:
    return await post_to_serve(
        port, form(slash_command(text, response_url=fake.response_url("r1")))
    )


# -- signals --------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_serve_cleanly_with_exit_0(
    tmp_path: Path, fake_slack: FakeSlack, signum: int
) -> None:
    served = await start_serve(tmp_path, slack_env(fake_slack))
    port = int((await served.wait_for(SERVING)).group(1))
    answer = await slash(port, fake_slack, "project redis")
    assert "Redis" in str(answer)

    code, took = await served.stop(signum)
    assert code == 0, served.log
    assert took < 10.0
    name = signal.Signals(signum).name
    assert f"INFO roadmap_bot.serve: {name} received: stopping" in served.log
    assert served.log.rstrip().endswith("INFO roadmap_bot.serve: stopped")
    assert "Traceback" not in served.log and " ERROR " not in served.log


# -- secrets ----------------------------------------------------------------------------------


async def test_a_debug_session_on_both_platforms_logs_no_secret(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    alice = FakeUser(snowflake(), "alice")
    async with FakeDiscord() as discord:
        served = await start_serve(
            tmp_path,
            slack_env(
                fake_slack,
                ROADMAP_LOG_LEVEL="DEBUG",
                DISCORD_TOKEN=discord.token,
                DISCORD_API_URL=discord.api_url,
                DISCORD_GATEWAY_URL=discord.gateway_url,
                DISCORD_GUILD_ID=str(discord.guild.id),
            ),
        )
        port = int((await served.wait_for(SERVING)).group(1))
        await discord.wait_identified()
        # Slack: a command answered in its ack, a click answered through a response_url
        card = await slash(port, fake_slack, "project redis")
        assert "Redis" in str(card)
        click = interactive_form(
            button_click(
                button_labeled(card, "Mark done"), response_url=fake_slack.response_url("r2")
            )
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{port}/slack/events", data=click, headers=signed_headers(click)
            ) as acked,
        ):
            assert acked.status == 200
        await fake_slack.wait_for("response_url", timeout=10)
        # Discord: commands answered through interaction callbacks (their tokens in the URL)
        shown = await (await discord.slash("project", {"name": "redis"}, user=alice)).answer()
        assert shown.title == "Redis"
        await (await discord.click(shown, "Mark done", user=alice)).answer()
        code, _ = await served.stop()
    assert code == 0, served.log
    log = served.log
    assert " DEBUG " in log  # the session really logged at DEBUG
    secrets = {
        "Slack bot token": BOT_TOKEN,
        "signing secret": SIGNING_SECRET,
        "Discord token": discord.token,
        "an interaction token": "interaction-token-",
        "a response_url": fake_slack.response_url("r"),
    }
    leaked = [what for what, secret in secrets.items() if secret in log]
    assert leaked == [], leaked
    assert "/interactions/" in log and "/[redacted]/callback" in log  # redacted, not absent


# -- credentials ----------------------------------------------------------------------------


async def test_a_rejected_slack_token_stops_serve_with_one_line(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    served = await start_serve(tmp_path, slack_env(fake_slack, SLACK_BOT_TOKEN="xoxb-revoked-1"))
    code = await asyncio.wait_for(served.process.wait(), 30)
    await served._reader
    assert code == 1
    assert served.lines[-1] == (
        "roadmap-bot: SLACK_BOT_TOKEN was rejected by Slack (invalid_auth): copy the Bot User "
        "OAuth Token (xoxb-...) again from the app's OAuth & Permissions page\n"
    )
    assert len(fake_slack.calls_to("auth.test")) == 1
    assert "Traceback" not in served.log
    assert "xoxb-revoked-1" not in served.log
    assert not SERVING.search(served.log)  # never served a request it could not answer


def test_serve_without_credentials_or_a_terminal_says_what_to_set(tmp_path: Path) -> None:
    done = run("serve", tmp_path=tmp_path)  # stdin is a pipe, as in a detached container
    assert done.returncode == 1
    assert done.stderr == (
        "roadmap-bot: nothing to serve: set SLACK_BOT_TOKEN (with SLACK_SIGNING_SECRET for "
        "HTTP mode or SLACK_APP_TOKEN for Socket Mode) and/or DISCORD_TOKEN; without them "
        "`serve` opens the local console, which needs a terminal\n"
    )


# -- a busy or corrupt database -------------------------------------------------------------


HOLD = """
import select, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))  # until told to let go, at most N s
conn.execute("ROLLBACK")
"""


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the database's write lock, as a long migration or a stuck
    writer would."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db), str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    return holder


async def test_a_busy_database_fails_one_shot_commands_clearly_and_serve_waits_it_out(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    db = tmp_path / "operator.db"
    assert run("ask", "help", tmp_path=tmp_path).returncode == 0  # create and migrate it
    # held until the checks below are done: a loaded machine must not see it end early
    holder = hold_write_lock(db, 120)
    try:
        served = await start_serve(tmp_path, slack_env(fake_slack))
        done = await asyncio.to_thread(run, "ask", "done", "fzf", tmp_path=tmp_path)
        assert done.returncode == 1
        assert done.stderr == (
            "roadmap-bot: the database is busy (database is locked: another process held the "
            f"write lock on {db} longer than the busy timeout); try again in a moment\n"
        )
        assert served.process.returncode is None  # serve is still up
        # the console says so for that command and goes on with the next one
        console = subprocess.Popen(
            [sys.executable, "-m", "roadmap_bot", "console"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(tmp_path),
            cwd=tmp_path,
        )
        assert console.stdin is not None and console.stdout is not None
        console.stdin.write("done fzf\n")
        console.stdin.flush()
        said = await asyncio.to_thread(console.stdout.readline)
        assert (
            "Sorry: the database is busy (database is locked: another process held the write "
            "lock on the database longer than the busy timeout); try again in a moment."
        ) in said
        assert holder.stdin is not None
        holder.stdin.write("let go\n")  # the lock is free from here on
        holder.stdin.flush()
        await asyncio.to_thread(holder.wait, 30)
        rest, errors = await asyncio.to_thread(console.communicate, "project redis\n", 60)
        assert console.returncode == 0, errors
        assert "Step 1 of 5 in Data Infrastructure" in rest
        port = int((await served.wait_for(SERVING)).group(1))
        # once the lock is free, serve answers and writes
        answer = await slash(port, fake_slack, "done fzf")
        assert "Marked fzf as done" in str(answer)
        # and the catch-up's next try (backing off while the lock was held) goes through
        await served.wait_for("start-up catch-up: delivered 0", timeout=60)
        code, _ = await served.stop()
        assert code == 0, served.log
        # the start-up catch-up met the lock (with no subscriptions at all), said so and
        # tried again instead of ending serve
        assert (
            "WARNING roadmap_bot.serve: start-up catch-up: the database is busy "
            "(database is locked); trying again in 1 s"
        ) in served.log
        assert "start-up catch-up: delivered 0, already delivered 0, failed 0" in served.log
        assert "Traceback" not in served.log
    finally:
        holder.kill()


def test_a_corrupt_database_is_named_as_such(tmp_path: Path) -> None:
    db = tmp_path / "operator.db"
    db.write_bytes(b"this is not a database, it is a grocery list\n" * 100)
    done = run("ask", "help", tmp_path=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        f"roadmap-bot: the database is corrupt (file is not a database: {db}); restore it "
        "from a backup, or point ROADMAP_DB at a new file\n"
    )


def test_sqlite_agrees_the_lock_is_real(tmp_path: Path) -> None:
    """The holder above really blocks writers (so the busy test tests something)."""
    db = tmp_path / "x.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)")
    holder = hold_write_lock(db, 5)
    try:
        conn = sqlite3.connect(db, timeout=0.1, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            conn.execute("BEGIN IMMEDIATE")
    finally:
        holder.kill()
        holder.wait()


assert os.name == "posix"  # signals as Docker and systemd send them


# -- a terminal -----------------------------------------------------------------------------


class Terminal:
    """`roadmap-bot serve` on a pseudo-terminal, as `make run` runs it in a shell."""

    def __init__(self, tmp_path: Path) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "roadmap_bot", "serve"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment(tmp_path, ROADMAP_HTTP_HOST="127.0.0.1", ROADMAP_HTTP_PORT="0"),
            cwd=tmp_path,
            # its own session, with the pty as its controlling terminal: Ctrl-C is SIGINT
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, text: bytes, timeout: float = 30.0) -> bytes:
        import select

        deadline = time.monotonic() + timeout
        while text not in self.seen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the process closed the terminal
                    break
        assert text in self.seen, self.seen.decode(errors="replace")
        return self.seen

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self.master)


@pytest.mark.parametrize(("leave", "how"), [(b"\x04", "Ctrl-D"), (b"\x03", "Ctrl-C")])
def test_serve_on_a_terminal_without_credentials_opens_the_console(
    tmp_path: Path, leave: bytes, how: str
) -> None:
    terminal = Terminal(tmp_path)
    try:
        terminal.read_until(b"Type 'help' for commands")
        terminal.type(b"project redis\n")
        terminal.read_until(b"Step 1 of 5 in Data Infrastructure")
        terminal.type(leave)
        assert terminal.process.wait(timeout=10) == 0, how
        assert b"Traceback" not in terminal.seen
        if how == "Ctrl-C":
            terminal.read_until(b"INFO roadmap_bot.serve: stopped")
    finally:
        terminal.close()
