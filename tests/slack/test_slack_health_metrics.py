"""/healthz (ready only while the database answers) and /metrics, on the Slack server."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from fakes.slack_api import FakeSlack
from fakes.slack_driver import SlackDriver
from fakes.sleeps import Sleeps
from roadmap_bot.adapters.slack.api import web_client
from roadmap_bot.adapters.slack.poster import SlackPoster
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import Settings
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.store.sql import SqlStore
from roadmap_bot.web.metrics import PrometheusRecorder

FIRST_DUE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(slack: SlackDriver) -> Samples:
    """/metrics as Prometheus reads it: (sample name, labels) -> value."""
    async with slack.http.get(slack.base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_ready_while_the_database_answers_and_503_with_the_reason_after(
    slack: SlackDriver, store: SqlStore
) -> None:
    async with slack.http.get(slack.base + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"ok": True, "mode": "http"}
    await store.close()  # the database is gone: this replica can answer nothing useful
    async with slack.http.get(slack.base + "/healthz") as response:
        assert response.status == 503
        body = await response.json()
    assert body["ok"] is False
    assert body["problems"]["database"].startswith("the database failed:")


async def test_commands_are_counted_by_kind_and_outcome_with_their_latency(
    recorder: PrometheusRecorder, slack: SlackDriver
) -> None:
    await slack.command("project etcd")
    await slack.command("project etcd")
    await slack.command("project etcdd")  # no such project: answered with a did-you-mean
    await slack.command("done")  # a command without its project
    samples = await scrape(slack)
    commands = "roadmap_commands_total"
    assert value(samples, commands, platform="slack", kind="show_project", outcome="ok") == 2
    assert value(samples, commands, platform="slack", kind="show_project", outcome="refused") == 1
    assert value(samples, commands, platform="slack", kind="invalid", outcome="refused") == 1
    assert value(samples, "roadmap_command_seconds_count", kind="show_project") == 3
    everything = value(samples, "roadmap_command_seconds_bucket", kind="show_project", le="+Inf")
    assert everything == 3


async def test_digests_and_429s_are_counted(
    recorder: PrometheusRecorder,
    slack: SlackDriver,
    groups: StudyGroups,
    clock: FixedClock,
    slack_settings: Settings,
    fake_slack: FakeSlack,
) -> None:
    fake_slack.now = lambda: clock.now().timestamp()
    deliverer = groups.deliverer
    deliverer.posters["slack"] = SlackPoster(web_client(slack_settings, handlers=[]))
    deliverer.sleep = Sleeps()
    await slack.command("subscribe beginner tz UTC", channel="C1")
    await slack.command("subscribe beginner tz UTC", channel="C2")
    fake_slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=3, times=2)
    fake_slack.channel_errors["C2"] = "is_archived"
    summary = await deliverer.run_due(FIRST_DUE)
    assert (summary.delivered, summary.failed) == (1, 1)
    samples = await scrape(slack)
    assert value(samples, "roadmap_digests_total", platform="slack", outcome="delivered") == 1
    assert value(samples, "roadmap_digests_total", platform="slack", outcome="failed") == 1
    assert value(samples, "roadmap_digests_in_progress", platform="slack") == 0
    assert value(samples, "roadmap_rate_limited_total", platform="slack") == 2
    assert value(samples, "roadmap_lease_takeovers_total", platform="slack") == 0
