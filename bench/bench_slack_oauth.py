"""Slash commands in a workspace installed by OAuth: the ack's latency with Bolt's answer
from Slack's ``auth.test`` kept per token (as the app runs) against asking it on every
request (Bolt's default), in one run.

One process: the fake Slack (``auth.test`` answering after ``--latency`` ms, a stand-in
for the round trip to Slack), our app in OAuth mode on a SQLite file with two installed
workspaces, and this load generator, one command at a time, alternating rounds between
the two settings. Prints p50 and p95 of each, their ratio, and auth.test calls per
command (each round starts with nothing kept: two workspaces' tokens asked once per
round of ``--requests / 10`` commands).

Run: .venv/bin/python bench/bench_slack_oauth.py  [--requests N] [--latency MS]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the fake Slack and request builders

from fakes.slack_api import FakeSlack  # noqa: E402
from fakes.slack_requests import SIGNING_SECRET, form, signed_headers, slash_command  # noqa: E402

COMMANDS = ["project redis", "intermediate", "search raft", "next"]
ROUNDS = 10


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{{name}}.md"  # reports: refused at once, no internet


async def bench(requests: int, latency_ms: float) -> None:
    from slack_sdk.oauth.installation_store import Installation

    from roadmap_bot.adapters.slack.server import serving, slack_adapter
    from roadmap_bot.app import open_app
    from roadmap_bot.config import load_settings

    teams = {"T1": "xoxb-bench-1", "T2": "xoxb-bench-2"}
    async with FakeSlack(tokens=set(teams.values())) as fake:
        fake.token_teams.update({token: team for team, token in teams.items()})
        fake.latency["auth.test"] = latency_ms / 1000
        folder = tempfile.mkdtemp()
        settings = load_settings(
            _env_file=None,
            SLACK_CLIENT_ID=fake.client_id,
            SLACK_CLIENT_SECRET=fake.client_secret,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            SLACK_AUTHORIZE_URL=fake.authorize_url,
            ROADMAP_DB=str(Path(folder) / "bench.db"),
            ROADMAP_REPORT_URL=closed_port_url(),
        )
        async with open_app(settings) as app:
            adapter = slack_adapter(app)
            async with (
                adapter,
                serving(adapter, settings, host="127.0.0.1", port=0) as (host, port),
                aiohttp.ClientSession() as http,
            ):
                installs = adapter.installs
                assert installs is not None and installs.authorize is not None
                for team, token in teams.items():
                    await installs.installations.async_save(
                        Installation(
                            app_id="A1",
                            team_id=team,
                            bot_token=token,
                            bot_id=f"B{team}",
                            bot_user_id="UBOT",
                            user_id="UINSTALLER",
                        )
                    )
                url = f"http://{host}:{port}/slack/events"
                answers = fake.url + "/response"

                async def one(i: int) -> float:
                    fields = slash_command(
                        COMMANDS[i % len(COMMANDS)],
                        response_url=f"{answers}/{i}",
                        team="T1" if i % 2 else "T2",
                        user=f"U{i % 20}",
                    )
                    body = form(fields)
                    started = time.perf_counter()
                    async with http.post(url, data=body, headers=signed_headers(body)) as r:
                        assert r.status == 200 and await r.read(), "no answer in the ack"
                    return (time.perf_counter() - started) * 1000

                for i in range(40):  # warm up: installations read, caches, connections
                    await one(i)
                times: dict[bool, list[float]] = {True: [], False: []}
                calls: dict[bool, int] = {True: 0, False: 0}
                per_round = max(requests // ROUNDS, 4)
                for round_ in range(ROUNDS):
                    for kept in (True, False) if round_ % 2 == 0 else (False, True):
                        installs.authorize.cache_enabled = kept
                        installs.authorize.authorize_result_cache.clear()
                        before = len(fake.calls_to("auth.test"))
                        times[kept] += [await one(i) for i in range(per_round)]
                        calls[kept] += len(fake.calls_to("auth.test")) - before
    count = per_round * ROUNDS
    print(
        f"OAuth mode, auth.test answering in {latency_ms:.0f} ms, {count} commands each, "
        "one at a time"
    )
    for kept, label in ((True, "answer kept per token (ours)"), (False, "asked every request")):
        print(
            f"  {label:<30} p50 {pct(times[kept], 0.5):7.2f} ms  p95 {pct(times[kept], 0.95):7.2f}"
            f" ms  auth.test calls per command {calls[kept] / count:.2f}"
        )
    ratio = pct(times[True], 0.5) / pct(times[False], 0.5)
    print(f"  p50 kept / asked: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="commands per setting")
    parser.add_argument("--latency", type=float, default=50.0, help="auth.test's answer, ms")
    args = parser.parse_args()
    asyncio.run(bench(args.requests, args.latency))


if __name__ == "__main__":
    main()
