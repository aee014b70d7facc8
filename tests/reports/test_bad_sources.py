"""Every way a source can send something that is not a report: an empty outline, one
warning in the log, and for the user a normal answer with the links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from aiohttp import web

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import ReplyKind
from roadmap_bot.clock import FixedClock
from roadmap_bot.reports.fetch import MAX_BYTES
from roadmap_bot.reports.service import Outcome, Reports

from .conftest import ReportHost, fixture, warnings

TIDEPOOL = fixture("tidepool")


async def _html_error_page(request: web.Request) -> web.StreamResponse:
    return web.Response(
        text="<!DOCTYPE html><html><body><h1>Unicorn!</h1></body></html>",
        content_type="text/html",
    )


async def _html_as_plain_text(request: web.Request) -> web.StreamResponse:
    return web.Response(text="<html><head><title>Error</title></head></html>")


async def _too_big_declared(request: web.Request) -> web.StreamResponse:
    return web.Response(body=TIDEPOOL.encode() + b"x" * MAX_BYTES, content_type="text/plain")


async def _too_big_streamed(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()  # no Content-Length: the limit must hold while reading
    await response.prepare(request)
    await response.write(TIDEPOOL.encode())
    chunk = b"y" * 65536
    try:
        for _ in range(MAX_BYTES // len(chunk) + 4):
            await response.write(chunk)
    except ConnectionError:  # the client stopped reading at the limit
        pass
    return response


async def _latin1(request: web.Request) -> web.StreamResponse:
    return web.Response(body=TIDEPOOL.replace("Tidepool", "Tidépool").encode("latin-1"))


async def _redirect_loop(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/loop/1")


async def _missing_sections(request: web.Request) -> web.StreamResponse:
    cut = TIDEPOOL[: TIDEPOOL.index("## Key Design Decisions")]
    return web.Response(text=cut, content_type="text/markdown")


async def _gone(request: web.Request) -> web.StreamResponse:
    return web.Response(status=404, text="404: Not Found")


CASES: dict[str, tuple[Callable[[web.Request], object], str]] = {
    "html-error-page": (_html_error_page, "an HTML page"),
    "html-sent-as-text": (_html_as_plain_text, "an HTML page"),
    "over-1-mb-declared": (_too_big_declared, f"bytes, over the {MAX_BYTES:,}-byte limit"),
    "over-1-mb-streamed": (_too_big_streamed, f"unusable: over the {MAX_BYTES:,}-byte limit"),
    "not-utf-8": (_latin1, "not UTF-8"),
    "redirect-loop": (_redirect_loop, "redirect loop"),
    "missing-sections": (_missing_sections, "no 'Key Design Decisions' section"),
    "not-found": (_gone, "HTTP 404"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_bad_report_gives_an_empty_outline_one_warning_and_a_helpful_reply(
    case: str,
    wired: Roadmap,
    reports: Reports,
    host: ReportHost,
    alice: Asker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route, reason = CASES[case]
    host.routes["kafka"] = route  # type: ignore[assignment]

    reply = await wired.ask("report kafka", alice)
    assert reply.ok and reply.kind is ReplyKind.REPORT
    assert reply.title == "Apache Kafka: architecture report"
    assert reply.text.startswith("I couldn't")
    if case == "not-found":
        assert "its source answered with an error (HTTP 404)" in reply.text
    else:
        assert "does not have the usual shape" in reply.text
    links = [link.url for s in reply.sections for link in s.links]
    kafka = wired.catalog.project("kafka").report_url
    assert links == [kafka + "#key-design-decisions", kafka + "#key-takeaways"]
    assert reply.links[0].url == kafka

    logged = warnings(caplog)
    assert len(logged) == 1, logged
    assert "kafka" in logged[0] and reason in logged[0]
    assert not [r for r in caplog.records if r.exc_info]  # a warning, not a traceback

    # the card goes out without decisions, and asking again logs nothing new
    card = await wired.ask("project kafka", alice)
    assert card.ok
    assert "Design decisions to look for" not in [s.heading for s in card.sections]
    await wired.ask("report kafka", alice)
    assert len(warnings(caplog)) == 1
    assert len(host.requests_for("kafka")) <= 1  # redirects are counted under /loop


async def test_a_malformed_report_that_is_not_modified_stays_empty_without_a_new_warning(
    reports: Reports, host: ReportHost, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    host.serve("kafka", TIDEPOOL.replace("## Key Takeaways", "## Lessons"))
    assert (await reports.refresh("kafka")).outcome is Outcome.FAILED
    assert len(warnings(caplog)) == 1
    clock.advance(timedelta(days=2))
    assert (await reports.refresh("kafka")).outcome is Outcome.UNCHANGED
    assert host.requests_for("kafka")[-1].status == 304
    state = await reports.state("kafka", wait=0)
    assert state.outline is None and state.problem == "no 'Key Takeaways' section"
    assert len(warnings(caplog)) == 1

    host.serve("kafka", TIDEPOOL)  # fixed upstream: the next check picks it up
    clock.advance(timedelta(days=1))
    assert (await reports.refresh("kafka")).outcome is Outcome.FETCHED
    assert (await reports.state("kafka", wait=0)).problem is None


async def test_a_malformed_report_replaces_a_good_cached_one(
    reports: Reports, host: ReportHost, clock: FixedClock
) -> None:
    host.serve("kafka", TIDEPOOL)
    await reports.refresh("kafka")
    host.serve("kafka", "<!doctype html><title>500</title>")
    clock.advance(timedelta(days=1))
    await reports.refresh("kafka")
    assert (await reports.state("kafka", wait=0)).outline is None
