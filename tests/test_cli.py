"""The roadmap-bot command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def offline_report_url() -> str:
    """A ROADMAP_REPORT_URL on a loopback port nobody listens on: report fetches are
    refused at once and never leave the machine (subprocesses escape the offline guard)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{{name}}.md"


def run(
    *args: str, tmp_path: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    environment["ROADMAP_DB"] = str(tmp_path / "cli.db")
    environment["ROADMAP_REPORT_URL"] = offline_report_url()
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "roadmap_bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        cwd=tmp_path,  # so a developer's .env is not read
    )


def test_ask_answers_with_exit_0(tmp_path: Path) -> None:
    done = run("ask", "project", "redis", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Redis\n")
    assert "Step 1 of 5 in Data Infrastructure" in done.stdout


def test_ask_bad_input_exits_2_with_the_helpful_reply(tmp_path: Path) -> None:
    done = run("ask", "kuberntes", tmp_path=tmp_path)
    assert done.returncode == 2
    assert "Did you mean: project kubernetes" in done.stdout
    assert "Traceback" not in done.stderr


def test_ask_json_is_the_platform_neutral_reply(tmp_path: Path) -> None:
    done = run("ask", "--format", "json", "path", "web-development", tmp_path=tmp_path)
    assert done.returncode == 0
    reply = json.loads(done.stdout)
    assert reply["kind"] == "path"
    assert [i["slug"] for i in reply["items"]] == ["react", "nextjs", "vite", "svelte"]


def test_progress_is_kept_between_runs_and_per_user(tmp_path: Path) -> None:
    assert run("ask", "--user", "alice", "done", "fzf", tmp_path=tmp_path).returncode == 0
    alice = run("ask", "--user", "alice", "progress", tmp_path=tmp_path)
    assert "1 of 100 reports read" in alice.stdout
    bob = run("ask", "--user", "bob", "progress", "alice", tmp_path=tmp_path)
    assert "alice's progress" in bob.stdout


def test_ask_does_not_import_platform_libraries(tmp_path: Path) -> None:
    code = (
        "import sys; from roadmap_bot.cli import main; code = main(['ask', 'next']); "
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('slack_bolt', 'slack_sdk', 'discord')]; "
        "print('LOADED', loaded); sys.exit(code)"
    )
    environment = {
        **os.environ,
        "ROADMAP_DB": str(tmp_path / "x.db"),
        "ROADMAP_REPORT_URL": offline_report_url(),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout


# What a one-shot `ask beginner` must not pay for: did-you-mean (rapidfuzz), search
# (snowballstemmer), migrations of a database already at the newest schema (alembic), and
# the platform and HTTP libraries.
NOT_FOR_ASK_BEGINNER = (
    "rapidfuzz",
    "snowballstemmer",
    "alembic",
    "slack_bolt",
    "slack_sdk",
    "discord",
    "aiohttp",
)


def test_ask_beginner_loads_only_what_it_needs(tmp_path: Path) -> None:
    first = run("ask", "done", "fzf", tmp_path=tmp_path)  # creates and migrates the database
    assert first.returncode == 0, first.stderr
    code = (
        "import sys; from roadmap_bot.cli import main; code = main(['ask', 'beginner']); "
        f"unwanted = {NOT_FOR_ASK_BEGINNER!r}; "
        "loaded = sorted(m for m in sys.modules if m.startswith(unwanted)); "
        "print('LOADED', loaded); sys.exit(code)"
    )
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "SLACK_", "DISCORD_"))
    }
    environment["ROADMAP_DB"] = str(tmp_path / "cli.db")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "fzf" in done.stdout  # the answer, with the mark the first run made
    assert "LOADED []" in done.stdout


def test_console_reads_a_pipe_until_eof(tmp_path: Path) -> None:
    done = run(
        "console",
        "--user",
        "carol",
        tmp_path=tmp_path,
        stdin="done fzf\n/roadmap next\n\nbeginer\n",
    )
    assert done.returncode == 0, done.stderr
    assert "Marked fzf as done." in done.stdout
    assert "Read next:" in done.stdout
    assert "Did you mean: beginner" in done.stdout


def test_a_failing_console_command_is_answered_and_the_console_goes_on(tmp_path: Path) -> None:
    """A bug in one command (here a table someone dropped by hand) gets the same apology
    as on Slack and Discord, the traceback goes to the log, and the next command works."""
    assert run("ask", "help", tmp_path=tmp_path).returncode == 0  # the database, migrated
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("DROP TABLE progress")
    done = run("console", "--user", "carol", tmp_path=tmp_path, stdin="beginner\nhelp\n")
    assert done.returncode == 0, done.stderr
    apology, rest = done.stdout.split("\n\n", 1)
    assert apology.startswith("Sorry, something went wrong on my side.")
    assert "tell whoever runs roadmap-bot" in apology
    assert "Commands" in rest  # 'help' was answered after the failure
    assert "answering a console command failed" in done.stderr
    assert "Traceback" in done.stderr  # for whoever runs it, not in the answer
    assert "Traceback" not in done.stdout


def test_catalog_check_ok_and_broken(tmp_path: Path) -> None:
    ok = run("catalog", "check", tmp_path=tmp_path)
    assert ok.returncode == 0
    assert "100 projects (11 beginner, 35 intermediate, 38 advanced, 16 in paths only)" in ok.stdout
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "concepts.toml").write_text('[concepts]\nraft = "Raft"\n')
    (broken / "projects.toml").write_text(
        '[[projects]]\nslug = "a"\nname = "A"\nlevel = "guru"\nsummary = ""\nconcepts = ["x"]\n'
        'repository = "nope"\nlanguage = "Go"\ncategory = "DB"\nreport_url = "https://e.org/a"\n'
    )
    (broken / "paths.toml").write_text(
        '[[paths]]\nslug = "p"\ntitle = "P"\nblurb = "b"\nsteps = ["a", "zz"]\n'
    )
    bad = run("catalog", "check", str(broken), tmp_path=tmp_path)
    assert bad.returncode == 1
    assert "5 problem(s)" in bad.stdout
    for expected in (
        "level: unknown level 'guru'",
        "summary: must not be empty",
        "unknown concept tag 'x'",
        "repository: 'nope' is not an http(s) URL",
        "step 2 names no project: 'zz'",
    ):
        assert expected in bad.stdout


def test_catalog_dump(tmp_path: Path) -> None:
    done = run("catalog", "dump", tmp_path=tmp_path)
    data = json.loads(done.stdout)
    assert len(data["projects"]) == 100 and len(data["paths"]) == 7
    kafka = next(p for p in data["projects"] if p["slug"] == "kafka")
    assert kafka["level"] == "advanced"
    assert kafka["paths"] == [{"path": "data-infrastructure", "step": 2}]
    loki = next(p for p in data["projects"] if p["slug"] == "loki")
    assert loki["level"] is None


def test_custom_catalog_from_the_environment(tmp_path: Path) -> None:
    folder = tmp_path / "ours"
    folder.mkdir()
    (folder / "concepts.toml").write_text('[concepts]\nraft = "Raft"\n')
    (folder / "projects.toml").write_text(
        '[[projects]]\nslug = "tiny"\nname = "Tiny"\nlevel = "beginner"\nsummary = "Small."\n'
        'concepts = ["raft"]\nrepository = "https://e.org/t"\nlanguage = "Go"\n'
        'category = "DB"\nreport_url = "https://e.org/t.md"\n'
    )
    (folder / "paths.toml").write_text(
        '[[paths]]\nslug = "p"\ntitle = "P"\nblurb = "b"\nsteps = ["tiny"]\n'
    )
    done = run("ask", "beginner", tmp_path=tmp_path, env={"ROADMAP_CATALOG": str(folder)})
    assert done.returncode == 0, done.stderr
    assert "Beginner projects (1)" in done.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ROADMAP_CATALOG": "/no/such/folder"},
            "ROADMAP_CATALOG: /no/such/folder is not a directory",
        ),
        (
            {"ROADMAP_DB": "/no/such/folder/x.db"},
            "ROADMAP_DB: the folder /no/such/folder does not exist",
        ),
        ({"ROADMAP_HTTP_PORT": "eighty"}, "ROADMAP_HTTP_PORT"),
        ({"ROADMAP_LOG_LEVEL": "LOUD"}, "ROADMAP_LOG_LEVEL: use DEBUG"),
        ({"ROADMAP_TIMEZONE": "Mars/Olympus"}, "is not an IANA time zone"),
    ],
)
def test_bad_settings_are_a_clear_startup_error(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = run("ask", "help", tmp_path=tmp_path, env=env)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_secrets_are_never_echoed_in_errors(tmp_path: Path) -> None:
    done = run(
        "ask",
        "help",
        tmp_path=tmp_path,
        env={"SLACK_BOT_TOKEN": "xoxb-very-secret", "ROADMAP_HTTP_PORT": "x"},
    )
    assert done.returncode == 1
    assert "xoxb-very-secret" not in done.stderr + done.stdout


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ROADMAP_LOG_LEVEL=LOUD\n")
    done = run("ask", "help", tmp_path=tmp_path)
    assert done.returncode == 1 and "ROADMAP_LOG_LEVEL" in done.stderr


def test_health(tmp_path: Path) -> None:
    done = run("health", tmp_path=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("ok: 100 projects")
