"""Three `serve` replicas on one PostgreSQL, as issue 11 runs them: real processes, the fake
Slack holding OAuth installs of two workspaces, the fake Discord with two shards.

Whichever replica a request reaches answers it, once; each replica runs the scheduler and
the delivery ledger decides who posts. A fan-out over many channels is cut by kill -9 of
the replica holding most of it, with posts in flight (some carried out by Slack, their
answers never read): the others take its channels over once its leases expire (a short
ROADMAP_LEASE_SECONDS) and every digest and thread ends posted exactly once.
"""

from __future__ import annotations

import asyncio
import html
import re
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from fakes.discord_server import FakeChannel, FakeDiscord, FakeGuild, FakeUser, make_guild
from fakes.slack_api import FakeSlack
from fakes.slack_requests import (
    SIGNING_SECRET,
    button_click,
    button_labeled,
    form,
    interactive_form,
    signed_headers,
    slash_command,
    visible_text,
)
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.digests import DigestStore
from roadmap_bot.store.sql import SqlStore
from test_operator import offline_report_url, run
from test_serve_process import SERVING, Served, start_serve

LEASE_SECONDS = 6  # short, so the killed replica's channels come back within the test
SLACK_CHANNELS = 60  # per workspace
DISCORD_CHANNELS = 15  # per guild
ALICE = FakeUser(700_000_000_000_000_001, "alice")


@dataclass
class Replica:
    name: str
    served: Served
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.served.process.pid


@dataclass
class World:
    slack: FakeSlack
    discord: FakeDiscord
    guilds: list[FakeGuild]
    replicas: list[Replica]
    database: str
    http: aiohttp.ClientSession


@pytest.fixture
async def world(postgres_url: str, tmp_path: Path) -> AsyncIterator[World]:
    guilds = [make_guild("Shard zero", shard=(0, 2)), make_guild("Shard one", shard=(1, 2))]
    for guild in guilds:  # before the bot connects, so each guild arrives with them
        for i in range(DISCORD_CHANNELS):
            guild.add_channel(f"study-{i}")
    migrated = await asyncio.to_thread(
        run, "db", "upgrade", tmp_path=tmp_path, ROADMAP_DATABASE_URL=postgres_url
    )
    assert migrated.returncode == 0, migrated.stderr
    async with (
        FakeSlack(tokens=set()) as slack,  # only tokens issued by installs work
        FakeDiscord(guilds=guilds) as discord,
        aiohttp.ClientSession() as http,
    ):
        slack.users["U1"] = {"id": "U1", "name": "alice", "tz": "UTC"}
        common = {
            "ROADMAP_DATABASE_URL": postgres_url,
            "ROADMAP_LEASE_SECONDS": str(LEASE_SECONDS),
            "ROADMAP_REPORT_URL": offline_report_url(),
            "ROADMAP_HTTP_HOST": "127.0.0.1",
            "ROADMAP_HTTP_PORT": "0",
            "SLACK_CLIENT_ID": slack.client_id,
            "SLACK_CLIENT_SECRET": slack.client_secret,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "SLACK_AUTHORIZE_URL": slack.authorize_url,
        }
        sharded = {
            "DISCORD_TOKEN": discord.token,
            "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
            "DISCORD_SHARD_COUNT": "2",
        }
        # Two shards over three replicas: each of the first two owns one, the third
        # serves Slack only (a shard connected twice would answer its guilds twice).
        envs = [
            {**common, **sharded, "DISCORD_SHARD_IDS": "0"},
            {**common, **sharded, "DISCORD_SHARD_IDS": "1"},
            common,
        ]
        folders = [tmp_path / f"replica-{i}" for i in range(3)]
        for folder in folders:
            folder.mkdir()
        started = await asyncio.gather(
            *(start_serve(f, e) for f, e in zip(folders, envs, strict=True))
        )
        try:
            ports = [int((await s.wait_for(SERVING, 60)).group(1)) for s in started]
            try:
                await discord.wait_identified(2, timeout=60)
            except TimeoutError:
                logs = "\n".join(f"== replica-{i}\n{r.log[-3000:]}" for i, r in enumerate(started))
                raise AssertionError(f"the Discord shards did not connect:\n{logs}") from None
            replicas = [
                Replica(f"replica-{i}", s, p)
                for i, (s, p) in enumerate(zip(started, ports, strict=True))
            ]
            yield World(slack, discord, guilds, replicas, postgres_url, http)
        finally:
            for served in started:
                if served.process.returncode is None:
                    served.process.kill()
                    await served.process.wait()


# -- what a user and an operator see ----------------------------------------------------------


async def install(world: World, team: str, start: Replica, finish: Replica) -> str:
    """An admin installs the app into ``team``: the install page of one replica, Slack's
    consent, the redirect back to another (the one-time state lives in the database)."""
    world.slack.redirect_url = f"{finish.base}/slack/oauth_redirect"
    origins = [r.base for r in world.replicas]
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=origins)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{start.base}/slack/install?team={team}") as page:
            assert page.status == 200
            link = re.search(r'<a href="([^"]+)"', await page.text())
        assert link is not None
        async with browser.get(html.unescape(link.group(1))) as done:
            assert done.status == 200, await done.text()
    return [t for t, owner in world.slack.token_teams.items() if owner == team][-1]


async def slack_post(world: World, replica: Replica, body: str, json_body: bool = False) -> Any:
    headers = signed_headers(body, json_body=json_body)
    async with world.http.post(f"{replica.base}/slack/events", data=body, headers=headers) as got:
        assert got.status == 200, await got.text()
        return await got.json() if got.content_type == "application/json" else await got.text()


async def command_counts(world: World, replica: Replica) -> dict[str, float]:
    """``roadmap_commands_total`` of one replica, summed by platform."""
    async with world.http.get(f"{replica.base}/metrics") as got:
        assert got.status == 200
        exposition = await got.text()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "roadmap_commands_total":
                platform = sample.labels["platform"]
                counts[platform] = counts.get(platform, 0.0) + sample.value
    return counts


async def takeovers(world: World, replica: Replica) -> float:
    async with world.http.get(f"{replica.base}/metrics") as got:
        exposition = await got.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "roadmap_lease_takeovers_total"
    )


def due_a_minute_ago() -> tuple[Schedule, datetime]:
    """A weekly slot that fell a minute ago, and a subscription time a day before it."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    return Schedule(at.weekday(), clock_time(at.hour, at.minute), "UTC"), at - timedelta(days=1)


async def until(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- the test -----------------------------------------------------------------------------------


async def test_three_replicas_answer_once_and_survive_a_kill_9_mid_fan_out(world: World) -> None:
    slack, discord, replicas = world.slack, world.discord, world.replicas
    assert sorted(discord.shard_identifies()) == [(0, 2), (1, 2)]

    # OAuth installs in two workspaces, each started on one replica and finished on another.
    tokens = {
        "T1": await install(world, "T1", replicas[0], replicas[1]),
        "T2": await install(world, "T2", replicas[2], replicas[0]),
    }
    assert tokens["T1"] != tokens["T2"]

    # Slack: commands spread over the replicas, in both workspaces; each is answered by
    # the replica it reached, in its HTTP answer, with that workspace's installation.
    sent_to = [0, 0, 0]
    for i, team in enumerate(["T1", "T2", "T1", "T2", "T1", "T2"]):
        body = form(slash_command("project redis", team=team, response_url=slack.response_url()))
        card = await slack_post(world, replicas[i % 3], body)
        sent_to[i % 3] += 1
        assert "Redis" in visible_text(card)
    # A click on a card shown by one replica, sent to another: answered once, through
    # its response_url; the mark is in the shared database, seen from the third.
    card = await slack_post(
        world, replicas[0], form(slash_command("project redis", response_url=slack.response_url()))
    )
    sent_to[0] += 1
    click = button_click(
        button_labeled(card, "Mark done"), response_url=slack.response_url("click-1")
    )
    await slack_post(world, replicas[1], interactive_form(click))
    sent_to[1] += 1
    [answer] = await slack.wait_for("response_url", where=lambda c: c.path.endswith("/click-1"))
    assert "Redis" in str(answer.params)
    progress = await slack_post(
        world, replicas[2], form(slash_command("progress", response_url=slack.response_url()))
    )
    sent_to[2] += 1
    assert "1 of" in visible_text(progress), visible_text(progress)
    await asyncio.sleep(0.5)  # a second answer to the click would have come by now
    assert len(slack.responses("click-1")) == 1

    # Discord: each guild's interactions reach only the replica owning its shard.
    interactions = []
    for guild in [*world.guilds, *world.guilds]:
        sent = await discord.slash(
            "project", {"name": "redis"}, user=ALICE, guild=guild, channel=guild.channel
        )
        assert (await sent.answer(timeout=15)).title == "Redis"
        interactions.append(sent)
    await asyncio.sleep(0.5)
    for sent in interactions:
        callbacks = discord.requests_to("POST", rf"/interactions/{sent.id}/[^/]+/callback")
        assert len(callbacks) == 1
    counted = [await command_counts(world, r) for r in replicas]
    assert [c.get("slack", 0) for c in counted] == sent_to
    assert [c.get("discord", 0) for c in counted] == [2, 2, 0]

    # -- the fan-out ----------------------------------------------------------------------
    slack_channels = [f"C{team[-1]}{i:03d}" for team in ("T1", "T2") for i in range(SLACK_CHANNELS)]
    team_of = {c: f"T{c[1]}" for c in slack_channels}
    # Every third Slack channel's digest stays unanswered until the kill: half of them
    # posted by Slack (the answer is what is lost), half never carried out.
    posted_unread = set(slack_channels[0::6])
    never_posted = set(slack_channels[3::6])
    stalling = [True]  # until the kill; then Slack answers every call again
    held = [
        slack.stall(
            "chat.postMessage",
            lambda p: stalling[0] and p.get("channel") in posted_unread and "thread_ts" not in p,
            carry_out=True,
        ),
        slack.stall(
            "chat.postMessage",
            lambda p: stalling[0] and p.get("channel") in never_posted and "thread_ts" not in p,
        ),
    ]
    discord_channels: list[tuple[FakeGuild, FakeChannel]] = [
        (g, c)
        for g in world.guilds
        for c in g.channels[1:]  # not #general, used above
    ]
    keys = [f"slack:{team_of[c]}:{c}" for c in slack_channels] + [
        f"discord:{g.id}:{c.id}" for g, c in discord_channels
    ]
    schedule, created = due_a_minute_ago()
    store = await SqlStore.open(world.database)
    try:
        digests = DigestStore(store)
        for key in keys:
            await digests.subscribe(key, "level:beginner", schedule, "slack:T1:U1", created)

        stalled = len(posted_unread) + len(never_posted)
        try:
            await until(
                lambda: (
                    len([c for c in slack.calls_to("chat.postMessage") if c.status == 502])
                    >= stalled
                ),
                30,
                "the fan-out to reach the stalled channels",
            )
        except AssertionError:
            logs = "\n".join(f"== {r.name}\n{r.served.log[-3000:]}" for r in replicas)
            raise AssertionError(f"ledger {await ledger_states(store)}\n{logs}") from None
        holders = await claims_by_pid(store)
        victim = max(replicas, key=lambda r: holders.get(r.pid, 0))
        assert holders.get(victim.pid, 0) > 0, holders
        victim.served.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(victim.served.process.wait(), 10) == -signal.SIGKILL
        stalling[0] = False
        for gate in held:
            gate.set()
        survivors = [r for r in replicas if r is not victim]

        # The survivors take the victim's channels over once its leases expire (a lease
        # of 6 s; at the default two minutes this would outlast the wait).
        try:
            await until(lambda: all_sent(store, len(keys)), 45, "every digest sent, threads done")
        except AssertionError:
            logs = "\n".join(f"== {r.name}\n{r.served.log[-3000:]}" for r in survivors)
            raise AssertionError(f"ledger {await ledger_states(store)}\n{logs}") from None
        ledger = await ledger_states(store)
    finally:
        await store.close()
    assert ledger == {"sent": len(keys)}

    # What the platforms hold: exactly one digest and one thread reply per channel.
    for channel in slack_channels:
        top = [m for m in slack.messages[channel] if "thread_ts" not in m]
        assert len(top) == 1, f"{channel}: {len(top)} digests"
        replies = [m for m in slack.messages[channel] if m.get("thread_ts") == top[0]["ts"]]
        assert len(replies) == 1, f"{channel}: {len(replies)} thread replies"
    for _, channel in discord_channels:
        posted = [m for m in discord.posts_in(channel.id) if m["embeds"]]
        assert len(posted) == 1, f"{channel.name}: {len(posted)} digests"
        assert len(discord.posts_in(int(str(posted[0]["id"])))) == 1  # its thread's prompts
    # Each workspace's digests went out with that workspace's token.
    for call in slack.calls_to("chat.postMessage"):
        channel = str(call.params.get("channel"))
        if channel in team_of:
            assert call.token == tokens[team_of[channel]], channel
    never = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] in never_posted]
    assert any(c.status == 200 for c in never)  # the ones Slack never carried out: posted now
    assert sum([await takeovers(world, r) for r in survivors]) >= 1

    for replica in survivors:
        code, _ = await replica.served.stop()
        assert code == 0, replica.served.log
        log = replica.served.log
        assert "Traceback" not in log, log[log.find("Traceback") - 1500 :][:6000]


async def claims_by_pid(store: SqlStore) -> dict[int, int]:
    """Live claims per process id (owner ids are 'host:pid:tag/run')."""
    async with store.db.read() as conn:
        rows = await conn.execute(
            text(
                "SELECT claimed_by, count(*) FROM deliveries "
                "WHERE state = 'claimed' GROUP BY claimed_by"
            )
        )
        found: dict[int, int] = {}
        for owner, count in rows:
            pid = int(str(owner).split(":")[1])
            found[pid] = found.get(pid, 0) + int(count)
    return found


async def ledger_states(store: SqlStore) -> dict[str, int]:
    async with store.db.read() as conn:
        rows = await conn.execute(text("SELECT state, count(*) FROM deliveries GROUP BY state"))
        return {str(state): int(count) for state, count in rows}


async def all_sent(store: SqlStore, expected: int) -> bool:
    async with store.db.read() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE state = 'sent' AND discussion IS NULL), "
                    "count(*) FROM deliveries"
                )
            )
        ).one()
    return int(row[0]) == expected and int(row[1]) == expected
