"""What users see: `report NAME`, the card's "Design decisions to look for", the digest's
agenda; each bounded in time and never an error because of a report."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from roadmap_bot.app import open_app
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.chat.replies import ReplyKind
from roadmap_bot.clock import FixedClock
from roadmap_bot.config import load_settings
from roadmap_bot.reports import command
from roadmap_bot.reports.outline import parse_report
from roadmap_bot.reports.service import Reports
from roadmap_bot.store.reports import ReportRow
from roadmap_bot.store.sql import SqlStore

from .conftest import ReportHost, eventually, fixture, make_reports, warnings

TIDEPOOL = fixture("tidepool")
DECISIONS = [
    "One Append-Only Log per Partition",
    "Acknowledge After fsync",
    "Pull-Based Consumers",
]


# -- report NAME ------------------------------------------------------------------------------


async def test_report_shows_decisions_takeaways_release_and_links(
    wired: Roadmap, host: ReportHost, alice: Asker
) -> None:
    host.serve("kafka", TIDEPOOL)
    reply = await wired.ask("report Kafka", alice)
    url = wired.catalog.project("kafka").report_url
    assert reply.ok and reply.kind is ReplyKind.REPORT and reply.command == "report kafka"
    assert "release v2.3.1 (2025-04-17)" in reply.text
    assert [(f.label, f.value) for f in reply.facts] == [
        ("Analyzed release", "v2.3.1 (2025-04-17)"),
        ("Report generated", "2025-05-01"),
    ]
    decisions, takeaways, outline = reply.sections
    assert [i.title for i in decisions.items] == DECISIONS
    assert [i.prefix for i in decisions.items] == ["1.", "2.", "3."]
    assert decisions.items[1].url == url + "#2-acknowledge-after-fsync"
    assert decisions.links[0].url == url + "#key-design-decisions"
    assert [i.title for i in takeaways.items] == [
        "Logs Make Replay Cheap",
        "Batching Beats Clever Latency Tricks",
        "Back-Pressure Belongs to the Reader",
    ]
    assert takeaways.links[0].url == url + "#key-takeaways"
    assert [link.url.removeprefix(url) for link in outline.links] == [
        "#overview",
        "#architecture-overview",
        "#core-components",
        "#data-flow",
        "#key-design-decisions",
        "#dependencies",
        "#testing-strategy",
        "#key-takeaways",
        "#references",
    ]
    assert reply.links[0].url == url
    assert [a.command or a.url for a in reply.actions] == [url, "reading kafka", "project kafka"]
    text = render_text(reply)
    # headings and lead phrases only: none of the report's prose reaches the chat
    assert "Invented reasoning" not in text and "keeping every message" not in text
    assert "Headings only" in text


async def test_report_header_shows_the_release_as_written_and_the_generated_date(
    wired: Roadmap, host: ReportHost, alice: Asker
) -> None:
    host.serve("kafka", TIDEPOOL.replace("`v2.3.1` (2025-04-17)", "`3.x` series (latest stable)"))
    reply = await wired.ask("report kafka", alice)
    facts = [(f.label, f.value) for f in reply.facts]
    assert facts == [
        ("Analyzed release", "3.x series (latest stable)"),
        ("Report generated", "2025-05-01"),
    ]
    assert "release 3.x series (latest stable)." in reply.text
    assert "Analyzed on" not in render_text(reply)


async def test_report_from_a_stale_cache_says_the_source_is_down(
    wired: Roadmap, host: ReportHost, reports: Reports, clock: FixedClock, alice: Asker
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.refresh("kafka")
    fetched_on = clock.now()
    host.mode = "down"
    clock.advance(timedelta(days=3))
    await reports.refresh("kafka")
    reply = await wired.ask("report kafka", alice)
    assert [i.title for i in reply.sections[0].items] == DECISIONS
    assert reply.footer.startswith(f"Outline as of {fetched_on.day} {fetched_on:%b %Y}")
    assert "not answering" in reply.footer


async def test_report_with_nothing_cached_and_the_source_down_still_answers(
    wired: Roadmap, host: ReportHost, alice: Asker
) -> None:
    host.mode = "down"
    reply = await wired.ask("report redis", alice)
    assert reply.ok
    assert "not answering" in reply.text
    assert [s.heading for s in reply.sections] == ["Read closely"]


@pytest.mark.parametrize(
    ("text", "title", "suggestion"),
    [
        ("report", "'report' needs a project name.", "report kafka"),
        ("report kafak", "I don't know a project called 'kafak'.", "report kafka"),
        ("outline kafak", "I don't know a project called 'kafak'.", "report kafka"),
        ("reprot kafka", "I don't know the command or project 'reprot'.", "report kafka"),
    ],
)
async def test_bad_report_commands_get_a_did_you_mean(
    wired: Roadmap, alice: Asker, text: str, title: str, suggestion: str
) -> None:
    reply = await wired.ask(text, alice)
    assert not reply.ok
    assert reply.title == title
    assert suggestion in reply.suggestions


async def test_help_lists_the_report_command(wired: Roadmap, alice: Asker) -> None:
    overview = await wired.ask("help", alice)
    assert "report NAME" in [i.title for i in overview.items]
    one = await wired.ask("help report", alice)
    assert one.title == "/roadmap report NAME"
    assert one.facts[0].value == "/roadmap report kafka"


# -- the project card -------------------------------------------------------------------------


async def test_the_card_lists_the_decisions_to_look_for(
    wired: Roadmap, host: ReportHost, alice: Asker
) -> None:
    host.serve("kafka", TIDEPOOL)
    card = await wired.ask("project kafka", alice)
    section = next(s for s in card.sections if s.heading == "Design decisions to look for")
    assert [i.title for i in section.items] == DECISIONS
    assert section.text.endswith("report kafka")
    decisions = [link for link in card.links if link.label == "Key Design Decisions"]
    assert [link.url for link in decisions] == [
        "https://github.com/thxtech/ossarch/blob/main/oss/kafka/README.md#key-design-decisions"
    ]  # once, with the card's other report links
    assert not section.links
    assert len(host.requests_for("kafka")) == 1


async def test_a_card_never_waits_long_for_a_cold_report(
    store: SqlStore,
    clock: FixedClock,
    http: aiohttp.ClientSession,
    host: ReportHost,
    roadmap: Roadmap,
    alice: Asker,
) -> None:
    reports = make_reports(store, clock, http, host, card_wait=0.05)
    command.install(roadmap, reports)
    host.mode = "hang"
    host.serve("kafka", TIDEPOOL)
    card = await roadmap.ask("project kafka", alice)
    assert card.ok and card.title == "Apache Kafka"
    assert "Design decisions to look for" not in [s.heading for s in card.sections]
    assert not host.release.is_set()
    await eventually(lambda: host.in_flight == 1)  # the fetch goes on without the card
    host.mode = "up"
    host.release.set()
    await reports.refresh("kafka")  # joins that fetch
    assert len(host.requests_for("kafka")) == 1
    card = await roadmap.ask("project kafka", alice)
    assert "Design decisions to look for" in [s.heading for s in card.sections]
    await reports.aclose()


async def test_a_stale_card_is_served_at_once_while_it_revalidates(
    wired: Roadmap, reports: Reports, host: ReportHost, clock: FixedClock, alice: Asker
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.refresh("kafka")
    clock.advance(timedelta(days=2))
    host.mode = "hang"
    card = await wired.ask("project kafka", alice)
    section = next(s for s in card.sections if s.heading == "Design decisions to look for")
    assert [i.title for i in section.items] == DECISIONS
    assert not host.release.is_set()
    await eventually(lambda: host.in_flight == 1)  # the revalidation is held at the host


async def test_a_broken_cache_does_not_break_the_card(
    wired: Roadmap, store: SqlStore, alice: Asker, caplog: pytest.LogCaptureFixture
) -> None:
    async with store.write() as conn:
        await conn.execute(text("DROP TABLE report_outlines"))
    card = await wired.ask("project kafka", alice)
    assert card.ok and card.title == "Apache Kafka"
    report = await wired.ask("report kafka", alice)
    assert report.ok and [s.heading for s in report.sections] == ["Read closely"]


# -- the digest's agenda ----------------------------------------------------------------------


async def test_agenda_gives_the_outline(reports: Reports, host: ReportHost) -> None:
    host.serve("kafka", TIDEPOOL)
    outline = await reports.agenda("kafka", timeout=2)
    assert outline is not None and list(outline.decision_titles) == DECISIONS


async def test_agenda_gives_up_within_its_timeout_and_says_why(
    reports: Reports, host: ReportHost, caplog: pytest.LogCaptureFixture
) -> None:
    host.mode = "hang"
    assert await reports.agenda("kafka", timeout=0.1) is None
    # it did not wait for the fetch (whose HTTP timeout is 2 s): that is still going on
    fetch = reports._inflight.get("kafka")
    assert fetch is not None and not fetch.done()
    assert "no agenda for kafka: the report did not arrive within 0.1 s" in warnings(caplog)
    await eventually(lambda: host.in_flight == 1, within=30)  # a safety net for a busy machine


async def test_agenda_on_a_slow_store_gives_up_in_time_and_still_fetches_the_report(
    reports: Reports, host: ReportHost, caplog: pytest.LogCaptureFixture
) -> None:
    host.serve("kafka", TIDEPOOL)
    read_the_store = reports.cache.get
    unblocked = asyncio.Event()

    async def busy_database(slug: str) -> ReportRow | None:
        await unblocked.wait()
        return await read_the_store(slug)

    reports.cache.get = busy_database  # type: ignore[method-assign]
    assert await reports.agenda("kafka", timeout=0.1) is None
    assert "no agenda for kafka: the report did not arrive within 0.1 s" in warnings(caplog)
    unblocked.set()
    # the fetch the read would have led to still happens: the next digest has the agenda
    await eventually(lambda: len(host.requests_for("kafka")) == 1, within=30)
    await eventually(lambda: "kafka" not in reports._inflight, within=30)
    outline = await reports.agenda("kafka", timeout=0.1)
    assert outline is not None and list(outline.decision_titles) == DECISIONS


async def test_a_fan_out_without_an_agenda_says_so_once_per_report(
    reports: Reports, host: ReportHost, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    host.serve("kafka", "# Just a title\n")
    for _ in range(50):  # one digest per channel, all wanting the same report
        assert await reports.agenda("kafka", timeout=1) is None
    said = [w for w in warnings(caplog) if w.startswith("no agenda for kafka")]
    assert said == ["no agenda for kafka: no 'Key Design Decisions' section"]
    clock.advance(timedelta(minutes=11))  # a later run says it again
    assert await reports.agenda("kafka", timeout=1) is None
    assert len([w for w in warnings(caplog) if w.startswith("no agenda for kafka")]) == 2


async def test_agenda_serves_a_stale_outline_when_the_source_is_down(
    reports: Reports, host: ReportHost, clock: FixedClock
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.refresh("kafka")
    host.mode = "down"
    clock.advance(timedelta(days=5))
    outline = await reports.agenda("kafka", timeout=1)
    assert outline is not None and list(outline.decision_titles) == DECISIONS


async def test_agenda_never_raises(
    reports: Reports, store: SqlStore, host: ReportHost, caplog: pytest.LogCaptureFixture
) -> None:
    host.serve("kafka", "# Just a title\n")
    assert await reports.agenda("kafka", timeout=1) is None
    assert "no agenda for kafka: no 'Key Design Decisions' section" in warnings(caplog)
    async with store.write() as conn:
        await conn.execute(text("DROP TABLE report_outlines"))
    assert await reports.agenda("redis", timeout=1) is None
    assert any("no agenda for redis" in r.getMessage() for r in caplog.records)


async def test_the_weekly_digest_reads_the_decisions_and_discusses_a_takeaway(
    host: ReportHost, tmp_path: Path
) -> None:
    host.serve("redis", TIDEPOOL)
    settings = load_settings(ROADMAP_DB=str(tmp_path / "app.db"), ROADMAP_REPORT_URL=host.url)
    async with open_app(settings) as app:
        lead = Asker(id="console:lead", name="lead", channel="console:study")
        assert (await app.roadmap.ask("subscribe data-infrastructure", lead)).ok
        sub = await app.deliverer.digests.subscription("console:study")
        assert sub is not None
        digest = await app.deliverer.compose(sub)
        read = next(s for s in digest.message.sections if s.heading == "What to read")
        assert [i.title for i in read.items] == DECISIONS
        url = app.catalog.project("redis").report_url
        assert read.items[1].url == url + "#2-acknowledge-after-fsync"  # linked to its section
        assert any('"Logs Make Replay Cheap"' in p for p in digest.prompts)
        assert any(f'"{DECISIONS[0]}"' in p for p in digest.prompts)
        # the card in the same app has them too, from the cache
        card = await app.roadmap.ask("project redis", lead)
        assert "Design decisions to look for" in [s.heading for s in card.sections]
    assert len(host.requests_for("redis")) == 1


async def test_a_digest_sets_the_weeks_report_against_the_one_it_builds_on(
    host: ReportHost, tmp_path: Path, clock: FixedClock
) -> None:
    host.serve("loki", fixture("quillmark"))
    host.serve("prometheus", TIDEPOOL)
    settings = load_settings(ROADMAP_DB=str(tmp_path / "app.db"), ROADMAP_REPORT_URL=host.url)
    async with open_app(settings, clock=clock) as app:
        lead = Asker(id="console:lead", name="lead", channel="console:study")
        assert (await app.roadmap.ask("subscribe observability-stack", lead)).ok
        for done in ("prometheus", "grafana"):  # two weeks went by
            await app.deliverer.digests.cover("console:study", done, "posted", clock.now())
        sub = await app.deliverer.digests.subscription("console:study")
        assert sub is not None
        digest = await app.deliverer.compose(sub)
        assert digest.project == "loki"
        loki = app.catalog.project("loki").name
        first = digest.prompts[0]
        quoted = re.findall(r'"([^"]+)"', first)
        # Loki's own decision (parsed from its report) beside one of Prometheus's
        assert first.startswith(f"{loki} builds on Prometheus")
        assert quoted[0] in parse_report(fixture("quillmark")).decision_titles
        assert quoted[1] in DECISIONS
    assert len(host.requests_for("grafana")) == 0  # last week's report is not needed


async def test_a_digest_goes_out_without_the_agenda_when_the_source_is_down(
    host: ReportHost, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host.mode = "down"
    settings = load_settings(ROADMAP_DB=str(tmp_path / "app.db"), ROADMAP_REPORT_URL=host.url)
    async with open_app(settings) as app:
        lead = Asker(id="console:lead", name="lead", channel="console:study")
        await app.roadmap.ask("subscribe data-infrastructure", lead)
        sub = await app.deliverer.digests.subscription("console:study")
        assert sub is not None
        digest = await app.deliverer.compose(sub)
        read = next(s for s in digest.message.sections if s.heading == "What to read")
        assert read.items == () and read.links  # still the links to the report
    assert any("no agenda for redis" in w for w in warnings(caplog))
