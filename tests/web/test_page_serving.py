"""The page as operators run it: `roadmap-bot dashboard --channel` prints the link, and
`serve` with only the console serves it on ROADMAP_HTTP_PORT (real processes)."""

from __future__ import annotations

import os
import pty
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment without any ROADMAP_/SLACK_/DISCORD_ settings, a database
    in tmp_path, and reports on a loopback port nobody listens on (nothing fetched)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env["ROADMAP_DB"] = str(tmp_path / "page.db")
    env["ROADMAP_REPORT_URL"] = f"http://127.0.0.1:{port}/{{name}}.md"
    return {**env, **extra}


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roadmap_bot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env(tmp_path, **env),
        cwd=tmp_path,
    )


def get(url: str) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as problem:
        return problem.code, problem.read().decode(), dict(problem.headers)


def test_dashboard_prints_the_link_and_says_why_not_without_a_subscription(
    tmp_path: Path,
) -> None:
    none = run(tmp_path, "dashboard", "--channel", "study")
    assert none.returncode == 2
    assert "console:study has no weekly digest" in none.stderr
    assert "Traceback" not in none.stderr
    assert run(tmp_path, "ask", "--channel", "study", "subscribe", "beginner").returncode == 0
    first = run(tmp_path, "dashboard", "--channel", "study", ROADMAP_WEB_URL="https://b.example")
    again = run(tmp_path, "dashboard", "--channel", "study", ROADMAP_WEB_URL="https://b.example")
    assert re.fullmatch(r"https://b\.example/groups/[\w-]{32}\n", first.stdout), first.stdout
    assert again.stdout == first.stdout
    reset = run(tmp_path, "dashboard", "--channel", "study", "--reset")
    assert reset.stdout.startswith("http://localhost:3000/groups/")  # no ROADMAP_WEB_URL
    assert reset.stdout.rsplit("/", 1)[1] != first.stdout.rsplit("/", 1)[1]


def test_serve_with_only_the_console_serves_the_page(tmp_path: Path) -> None:
    assert run(tmp_path, "ask", "--channel", "study", "subscribe", "beginner").returncode == 0
    link = run(tmp_path, "dashboard", "--channel", "study").stdout.strip()
    token = link.rsplit("/", 1)[1]
    # Without credentials serve runs the console, which needs a terminal (as `make run`
    # has); without one it would exit saying what to set.
    terminal, console = pty.openpty()
    serve = subprocess.Popen(
        [sys.executable, "-m", "roadmap_bot", "serve"],
        stdin=console,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(tmp_path, ROADMAP_HTTP_HOST="127.0.0.1", ROADMAP_HTTP_PORT="0"),
        cwd=tmp_path,
    )
    os.close(console)
    try:
        assert serve.stderr is not None
        deadline = time.monotonic() + 60
        port = None
        while port is None and time.monotonic() < deadline:
            line = serve.stderr.readline()
            found = re.search(r"study-group pages on 127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else None
        assert port is not None, "serve never said where it serves"
        status, body, headers = get(f"http://127.0.0.1:{port}/groups/{token}")
        assert status == 200
        assert "Study group: the beginner level" in body
        assert headers["Cache-Control"] == "private, no-store"
        assert get(f"http://127.0.0.1:{port}/groups/{'x' * 32}")[0] == 404
    finally:
        os.write(terminal, b"\x04")  # Ctrl-D: the console reads EOF and serve stops
        try:
            serve.wait(timeout=30)
        finally:
            if serve.poll() is None:
                serve.kill()
            os.close(terminal)


def serve_on_a_terminal(
    keys: bytes, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`roadmap-bot serve` with a (pseudo-)terminal for stdin, as `make run` has: without
    credentials it runs the console there; ``keys`` are typed into it."""
    terminal, console = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "roadmap_bot", "serve"],
            stdin=console,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        os.close(console)
        os.write(terminal, keys)
        try:
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)
    finally:
        os.close(terminal)


def test_a_taken_port_leaves_the_console_running_and_says_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_on_a_terminal(
            b"next\n\x04",  # a command, then Ctrl-D
            env=cli_env(tmp_path, ROADMAP_HTTP_HOST="127.0.0.1", ROADMAP_HTTP_PORT=str(port)),
            cwd=tmp_path,
        )
    assert done.returncode == 0
    assert f"cannot serve HTTP on 127.0.0.1:{port}" in done.stderr
    assert "Set ROADMAP_HTTP_PORT to a free port" in done.stderr
    assert "Traceback" not in done.stderr
    assert "fzf" in done.stdout.casefold()  # the console answered 'next'
