"""The cache policy against a real HTTP host on 127.0.0.1: conditional requests, once a
day, a source that goes down and comes back, and one fetch per report at a time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest

from roadmap_bot.clock import FixedClock
from roadmap_bot.reports.service import RETRY_AFTER, Outcome, Reports
from roadmap_bot.store.reports import ReportCache, ReportRow
from roadmap_bot.store.sql import SqlStore

from .conftest import ReportHost, eventually, fixture, make_reports, warnings

TIDEPOOL = fixture("tidepool")
DECISIONS = (
    "One Append-Only Log per Partition",
    "Acknowledge After fsync",
    "Pull-Based Consumers",
)
CHANGED = TIDEPOOL.replace("Pull-Based Consumers", "Consumers Pull, Brokers Wait")


async def settle(reports: Reports, slug: str) -> None:
    """Wait for a background revalidation of ``slug`` to finish (it is coalesced)."""
    await reports.refresh(slug) if reports._inflight.get(slug) else None


async def test_a_report_is_fetched_once_then_served_from_the_cache(
    reports: Reports,
    host: ReportHost,
    store: SqlStore,
    clock: FixedClock,
    http: aiohttp.ClientSession,
) -> None:
    host.serve("kafka", TIDEPOOL)
    first = await reports.state("kafka", wait=2)
    assert first.decision_titles == DECISIONS
    assert first.checked_at == clock.now() and not first.source_down
    again = await reports.state("kafka", wait=2)
    assert again.outline == first.outline
    assert len(host.requests_for("kafka")) == 1
    # a restart reads the store: still no request
    restarted = make_reports(store, clock, http, host)
    assert (await restarted.state("kafka", wait=2)).decision_titles == DECISIONS
    assert len(host.requests_for("kafka")) == 1


class CountedReads(ReportCache):
    """The real cache, counting how often it is read."""

    reads = 0

    async def get(self, slug: str) -> ReportRow | None:
        self.reads += 1
        return await super().get(slug)


async def test_a_fan_out_of_digests_reads_each_cached_report_from_the_store_once(
    reports: Reports,
    host: ReportHost,
    store: SqlStore,
    clock: FixedClock,
    http: aiohttp.ClientSession,
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.state("kafka", wait=2)  # fetched and stored once
    # Another process (a replica starting its fan-out): 500 digests ask at once.
    cache = CountedReads(store)
    replica = Reports(cache, clock, lambda: http, host.url)
    impatient = asyncio.create_task(replica.agenda("kafka", timeout=0))  # gives up at once
    agendas = await asyncio.gather(*(replica.agenda("kafka", timeout=5) for _ in range(500)))
    assert await impatient is None  # its giving up did not cancel the others' read
    assert {a.decision_titles if a else None for a in agendas} == {DECISIONS}
    assert cache.reads == 1
    assert len(host.requests_for("kafka")) == 1
    await replica.aclose()


async def test_revalidation_is_conditional_and_at_most_once_a_day(
    reports: Reports, host: ReportHost, clock: FixedClock
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.state("kafka", wait=2)
    etag = host.seen[0]
    assert etag.if_none_match is None and etag.status == 200

    clock.advance(timedelta(hours=23))
    await reports.state("kafka", wait=2)
    assert len(host.requests_for("kafka")) == 1  # not yet a day

    clock.advance(timedelta(hours=2))
    stale = await reports.state("kafka", wait=2)
    assert stale.decision_titles == DECISIONS  # served at once while it revalidates
    await settle(reports, "kafka")
    second = host.requests_for("kafka")[1]
    assert second.if_none_match is not None and second.if_none_match.startswith('"')
    assert second.if_modified_since is not None
    assert second.status == 304
    state = await reports.state("kafka", wait=2)
    assert state.checked_at == clock.now() and state.decision_titles == DECISIONS

    clock.advance(timedelta(hours=23))
    await reports.state("kafka", wait=2)
    assert len(host.requests_for("kafka")) == 2  # the 304 counted as a check


async def test_a_host_with_only_last_modified_gets_if_modified_since(
    reports: Reports, host: ReportHost
) -> None:
    host.etags = False
    host.serve("kafka", TIDEPOOL)
    assert (await reports.refresh("kafka")).outcome is Outcome.FETCHED
    assert (await reports.refresh("kafka")).outcome is Outcome.UNCHANGED
    second = host.requests_for("kafka")[1]
    assert second.if_none_match is None
    assert second.if_modified_since is not None and second.status == 304


async def test_a_host_without_validators_sending_the_same_report_is_unchanged(
    reports: Reports, host: ReportHost
) -> None:
    host.etags = host.last_modified = False
    host.serve("kafka", TIDEPOOL)
    assert (await reports.refresh("kafka")).outcome is Outcome.FETCHED
    assert (await reports.refresh("kafka")).outcome is Outcome.UNCHANGED
    assert [s.status for s in host.requests_for("kafka")] == [200, 200]


async def test_a_changed_report_replaces_the_outline(
    reports: Reports, host: ReportHost, clock: FixedClock
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.state("kafka", wait=2)
    host.serve("kafka", CHANGED)
    clock.advance(timedelta(days=1))
    assert (await reports.refresh("kafka")).outcome is Outcome.FETCHED
    state = await reports.state("kafka", wait=2)
    assert state.decision_titles[-1] == "Consumers Pull, Brokers Wait"


async def test_the_source_goes_down_and_comes_back(
    reports: Reports, host: ReportHost, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.state("kafka", wait=2)

    # a day later the host answers 503: the cached outline is served, marked possibly stale
    host.mode = "down"
    clock.advance(timedelta(days=1, minutes=1))
    await reports.state("kafka", wait=2)
    await settle(reports, "kafka")
    state = await reports.state("kafka", wait=2)
    assert state.decision_titles == DECISIONS
    assert state.source_down
    assert len(warnings(caplog)) == 1 and "HTTP 503" in warnings(caplog)[0]
    assert "serving the cached outline" in warnings(caplog)[0]

    # within the retry interval nobody asks the host again, however many cards are shown
    for _ in range(5):
        await reports.state("kafka", wait=2)
    assert len(host.requests_for("kafka")) == 2

    # then it is gone altogether: connections refused, the cache still answers
    await host.stop()
    clock.advance(RETRY_AFTER)
    await reports.state("kafka", wait=2)
    await settle(reports, "kafka")
    assert (await reports.state("kafka", wait=2)).decision_titles == DECISIONS
    assert "cannot connect" in warnings(caplog)[-1]

    # back, with a changed report: after the retry interval the change arrives
    host.mode = "up"
    host.serve("kafka", CHANGED)
    await host.start()
    clock.advance(RETRY_AFTER)
    await reports.state("kafka", wait=2)
    await settle(reports, "kafka")
    state = await reports.state("kafka", wait=2)
    assert state.decision_titles[-1] == "Consumers Pull, Brokers Wait"
    assert not state.source_down and state.checked_at == clock.now()


async def test_nothing_cached_and_the_source_down_gives_no_outline_and_no_error(
    reports: Reports, host: ReportHost, caplog: pytest.LogCaptureFixture
) -> None:
    host.mode = "down"
    state = await reports.state("kafka", wait=2)
    assert state.outline is None and state.source_down and not state.pending
    assert (await reports.refresh("kafka")).outcome is Outcome.FAILED
    assert "no outline cached" in warnings(caplog)[0]


async def test_a_host_that_never_answers_times_out_as_down(
    store: SqlStore,
    clock: FixedClock,
    http: aiohttp.ClientSession,
    host: ReportHost,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports = make_reports(store, clock, http, host, timeout=0.2)
    host.mode = "hang"
    result = await reports.refresh("kafka")
    assert result.outcome is Outcome.FAILED and result.reason == "no answer in time"
    assert (await reports.state("kafka", wait=0)).source_down
    await reports.aclose()


async def test_readers_at_the_same_time_share_one_fetch(reports: Reports, host: ReportHost) -> None:
    host.serve("kafka", TIDEPOOL)
    states = await asyncio.gather(*(reports.state("kafka", wait=2) for _ in range(8)))
    assert all(s.decision_titles == DECISIONS for s in states)
    assert len(host.requests_for("kafka")) == 1


async def test_a_new_report_url_is_fetched_afresh_without_old_validators(
    reports: Reports,
    host: ReportHost,
    store: SqlStore,
    clock: FixedClock,
    http: aiohttp.ClientSession,
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.state("kafka", wait=2)
    moved = make_reports(store, clock, http, host)
    moved.url_template = host.base + "/oss/{name}.md?v=2"
    state = await moved.state("kafka", wait=0)
    assert state.decision_titles == DECISIONS  # the old outline, while the new URL is read
    await settle(moved, "kafka")
    assert host.seen[-1].if_none_match is None and host.seen[-1].status == 200
    await moved.aclose()


async def test_refresh_all_counts_and_bounds_concurrency(
    reports: Reports, host: ReportHost
) -> None:
    slugs = [f"report-{i}" for i in range(12)]
    for slug in slugs[:10]:
        host.serve(slug, TIDEPOOL)
    host.serve(slugs[10], "<!doctype html><p>oops</p>")  # slugs[11]: 404
    await reports.refresh_all(slugs[:2])  # two are cached already
    host.mode = "hang"
    seen = []
    refresh = asyncio.create_task(
        reports.refresh_all(slugs, concurrency=3, progress=lambda r, s: seen.append(r.slug))
    )
    await eventually(lambda: host.in_flight == 3)  # the first three are held at the host
    await asyncio.sleep(0.05)  # time for a fourth to arrive, were the bound broken
    assert host.in_flight == 3
    host.mode = "up"
    host.release.set()
    summary = await refresh
    assert host.most_in_flight == 3
    assert (summary.fetched, summary.unchanged, summary.failed) == (8, 2, 2)
    assert sorted(summary.problems) == [
        "report-10: an HTML page, not a Markdown report",
        "report-11: HTTP 404",
    ]
    assert sorted(seen) == sorted(slugs)
    assert summary.line() == "fetched 8, unchanged 2, failed 2"
