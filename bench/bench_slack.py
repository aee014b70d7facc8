"""Slack slash commands over loopback: our app against a bare Bolt app that only acks.

Issue 3 target: our p50 <= 1.5x the bare app's p50, measured in the same run.

Three processes, so the load generator does not steal the servers' CPU:

- servers (pinned to one core): our Slack adapter (real core, SQLite store, the study-group
  commands, Block Kit rendering, the answer in the ack) and two bare Bolt apps
  that only ack: one configured like ours (``process_before_response=True``), and one
  with Bolt's defaults (which polls for the ack every 10 ms), for context;
- a fake Slack (Web API + response_urls) and
- this process, the load generator (both on the other core).

Every request is a correctly signed ``/roadmap`` slash command (a mix of cards, level lists,
searches, paths and picks, from 50 users). Measured: ack latency p50/p99 one request at a
time, requests per second and p50/p99 with 16 in flight. Our app answers a command inside
its ack when the core is fast enough (nearly always), so its ack latency is the time
until the user has the answer; the bare apps' acks carry nothing.

Run: .venv/bin/python bench/bench_slack.py  [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the fake Slack and request builders

from fakes.slack_api import FakeSlack  # noqa: E402
from fakes.slack_requests import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    form,
    signed_headers,
    slash_command,
)

COMMANDS = ["project redis", "intermediate", "search raft", "next", "path observability-stack"]
USERS = 50
CONCURRENCY = 16
PACED_RATE = 200.0  # requests per second, open loop
ROUNDS = 20


# -- the servers' process ------------------------------------------------------------------


async def serve_apps(fake_url: str) -> None:
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from roadmap_bot.adapters.slack.app import SlackAdapter
    from roadmap_bot.adapters.slack.server import serving, web_app
    from roadmap_bot.app import open_app
    from roadmap_bot.config import load_settings
    from roadmap_bot.pauses import settle_after_start

    folder = tempfile.mkdtemp()
    settings = load_settings(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_url + "/api/",
        # Reports come from the fake too (a 404: no outline), never from the internet.
        ROADMAP_REPORT_URL=fake_url + "/oss/{name}.md",
        ROADMAP_DB=str(Path(folder) / "bench.db"),
    )
    api_url = settings.slack_api_url or ""

    def bare(process_before_response: bool) -> AsyncApp:
        app = AsyncApp(
            client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
            signing_secret=SIGNING_SECRET,
            process_before_response=process_before_response,
        )

        @app.command("/roadmap")
        async def ack_only(ack: AsyncAck) -> None:
            await ack()

        return app

    async with (
        open_app(settings) as composed,
        SlackAdapter(composed.roadmap, settings) as ours,
        serving(ours, settings, host="127.0.0.1", port=0) as (_, ours_port),
    ):
        ports = {"ours": ours_port}
        runners = []
        for name, app in (("bare", bare(True)), ("bare (Bolt defaults)", bare(False))):
            runner = web.AppRunner(
                web_app(app, "http", signing_secret=SIGNING_SECRET), access_log=None
            )
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            ports[name] = runner.addresses[0][1]
            runners.append(runner)
        # As serve does once started (serve.py): the first requests find the search
        # index built, and start-up's objects out of the collector's reach.
        composed.roadmap.warm()
        settle_after_start()
        print(json.dumps(ports), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
        for runner in runners:
            await runner.cleanup()


async def serve_fake() -> None:
    async with FakeSlack() as fake:
        print(json.dumps({"url": fake.url, "api": fake.api_url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# -- the load generator ----------------------------------------------------------------------


@asynccontextmanager
async def child(
    mode: str, *args: str, core: int | None
) -> AsyncIterator[tuple[dict[str, Any], int]]:
    """Start this script in ``mode`` (pinned to ``core``); yield what it printed, and its pid."""

    def pin() -> None:
        if core is not None:
            os.sched_setaffinity(0, {core})

    process = subprocess.Popen(
        [sys.executable, __file__, mode, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "ROADMAP_LOG_LEVEL": "WARNING"},
        preexec_fn=pin,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.get_running_loop().run_in_executor(None, process.stdout.readline)
        yield json.loads(line), process.pid
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bodies(count: int, response_url: str) -> list[tuple[str, dict[str, str]]]:
    """Signed slash-command requests, made before timing starts."""
    out = []
    for i in range(count):
        body = form(
            slash_command(
                COMMANDS[i % len(COMMANDS)],
                response_url=f"{response_url}/{i}",
                user=f"UBENCH{i % USERS:03d}",
                user_name=f"bench{i % USERS}",
            )
        )
        out.append((body, signed_headers(body)))
    return out


async def load(
    http: aiohttp.ClientSession,
    url: str,
    requests: list[tuple[str, dict[str, str]]],
    concurrency: int,
) -> tuple[list[float], float]:
    """Latencies (ms) of every request and the requests per second over the run."""
    latencies: list[float] = []
    queue = list(reversed(requests))

    async def worker() -> None:
        while queue:
            body, headers = queue.pop()
            start = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, len(requests) / (time.perf_counter() - began)


async def paced(
    http: aiohttp.ClientSession,
    url: str,
    requests: list[tuple[str, dict[str, str]]],
    rate: float,
) -> list[float]:
    """Open loop: requests start on a fixed clock, not when the previous one is answered.

    A server that falls behind is charged for it: the requests keep coming, and wait.
    """
    latencies: list[float] = []

    async def one(body: str, headers: dict[str, str]) -> None:
        start = time.perf_counter()
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    running = []
    for i, (body, headers) in enumerate(requests):
        due = began + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        running.append(asyncio.create_task(one(body, headers)))
    await asyncio.gather(*running)
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def inline_share(http: aiohttp.ClientSession, url: str, answers: str) -> float:
    """The share of commands whose answer came back in the ack itself."""
    inline = 0
    sample = bodies(200, answers)
    for body, headers in sample:
        async with http.post(url, data=body, headers=headers) as response:
            inline += bool(await response.read())
    return inline / len(sample)


async def bench(requests: int) -> None:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_core = cores[0] if len(cores) > 1 else None
    if server_core is not None:
        os.sched_setaffinity(0, set(cores[1:]))  # the load generator keeps off the servers' core
    async with (
        child("--fake", core=None) as (fake, _),
        child("--serve", fake["url"], core=server_core) as (ports, server),
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http,
    ):
        urls = {name: f"http://127.0.0.1:{port}/slack/events" for name, port in ports.items()}
        answers = fake["url"] + "/response"
        for url in urls.values():  # warm up: auth.test, caches, connections
            await load(http, url, bodies(300, answers), CONCURRENCY)
        results: dict[str, dict[str, list[float]]] = {
            n: {"seq": [], "paced": [], "load": [], "rps": [], "cpu": []} for n in urls
        }
        # Many short interleaved rounds: every app sees the same machine, noise included.
        per_round = max(requests // ROUNDS, 10)
        for round_ in range(ROUNDS):
            names = list(urls) if round_ % 2 == 0 else list(reversed(urls))
            for name in names:
                url = urls[name]
                used = cpu_seconds(server)
                results[name]["seq"] += (await load(http, url, bodies(per_round, answers), 1))[0]
                results[name]["paced"] += await paced(
                    http, url, bodies(per_round * 2, answers), PACED_RATE
                )
                under, rps = await load(http, url, bodies(per_round * 4, answers), CONCURRENCY)
                await asyncio.sleep(0.2)  # answers still being sent belong to this app
                results[name]["cpu"].append((cpu_seconds(server) - used) / (per_round * 7))
                results[name]["load"] += under
                results[name]["rps"].append(rps)
        answered_inline = await inline_share(http, urls["ours"], answers)

    count = len(results["ours"]["seq"])
    print(
        f"Slack slash commands over loopback, per app: {count} back to back, {count * 2} paced "
        f"at {PACED_RATE:.0f}/s, {count * 4} at {CONCURRENCY} in flight; {ROUNDS} interleaved rounds"
    )
    print(
        f"{'':<22} {'back to back':>15}   {f'paced {PACED_RATE:.0f}/s':>15}   "
        f"{f'{CONCURRENCY} in flight':>23}"
    )
    print(
        f"{'app':<22} {'p50 ms':>7} {'p99 ms':>7}   {'p50 ms':>7} {'p99 ms':>7}   "
        f"{'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    for name, r in results.items():
        print(
            f"{name:<22} {pct(r['seq'], 0.5):7.2f} {pct(r['seq'], 0.99):7.2f}   "
            f"{pct(r['paced'], 0.5):7.2f} {pct(r['paced'], 0.99):7.2f}   "
            f"{statistics.median(r['rps']):7.0f} {pct(r['load'], 0.5):7.2f} "
            f"{pct(r['load'], 0.99):7.2f}"
        )
    cpu = {name: statistics.fmean(r["cpu"]) * 1e6 for name, r in results.items()}
    print(
        "server CPU per command: "
        + ", ".join(f"{name} {micros:.0f} µs" for name, micros in cpu.items())
        + f" (ours / bare {cpu['ours'] / cpu['bare']:.2f}x; all threads, the answer included)"
    )
    for mode, label in (("paced", f"paced at {PACED_RATE:.0f}/s"), ("seq", "back to back")):
        ratio = pct(results["ours"][mode], 0.5) / pct(results["bare"][mode], 0.5)
        verdict = "ok" if ratio <= 1.5 else "ABOVE TARGET"
        print(f"ours / bare p50, {label}: {ratio:.2f}x (target <= 1.5x)  {verdict}")
    print(
        f"ours answered {answered_inline:.0%} of commands inside the ack: for those the ack "
        "latency above is the time until the user has the answer"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        asyncio.run(serve_apps(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--fake":
        asyncio.run(serve_fake())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests per round")
    asyncio.run(bench(parser.parse_args().requests))


if __name__ == "__main__":
    main()
