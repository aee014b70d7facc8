"""Report fetches stay on the configured host: a redirect elsewhere is not followed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from roadmap_bot.reports.fetch import BadReport, fetch_report

from .conftest import ReportHost, Route, fixture

TIDEPOOL = fixture("tidepool")


@pytest.fixture
async def elsewhere() -> AsyncIterator[ReportHost]:
    """A second host (another port), serving the report too: it must never be asked."""
    other = ReportHost()
    other.serve("kafka", TIDEPOOL)
    await other.start()
    yield other
    await other.stop()


def redirect_to(location: str, status: int = 302) -> Route:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})

    return answer


async def test_a_redirect_on_the_same_host_is_followed(
    host: ReportHost, http: aiohttp.ClientSession
) -> None:
    host.serve("kafka-moved", TIDEPOOL)
    host.routes["kafka"] = redirect_to("/oss/kafka-moved.md", 301)
    fetched = await fetch_report(http, host.url.format(name="kafka"))
    assert fetched.text == TIDEPOOL
    assert [s.path for s in host.seen] == ["/oss/kafka.md", "/oss/kafka-moved.md"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_to_another_port_is_not_followed(
    host: ReportHost, elsewhere: ReportHost, http: aiohttp.ClientSession, status: int
) -> None:
    target = elsewhere.url.format(name="kafka")
    host.routes["kafka"] = redirect_to(target, status)
    with pytest.raises(BadReport) as refused:
        await fetch_report(http, host.url.format(name="kafka"))
    assert str(refused.value) == (
        f"a redirect to another host (127.0.0.1:{elsewhere.port}), not followed: reports are "
        "fetched only from the configured host"
    )
    assert elsewhere.seen == []


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        (
            "http://169.254.169.254/latest/meta-data/",
            "a redirect to another host (169.254.169.254:80), not followed",
        ),
        ("file:///etc/passwd", "a redirect to something that is not a web address"),
        ("", "a redirect without a Location"),
    ],
)
async def test_redirects_off_the_host_are_refused_before_any_request(
    host: ReportHost, http: aiohttp.ClientSession, location: str, reason: str
) -> None:
    host.routes["kafka"] = redirect_to(location)
    with pytest.raises(BadReport) as refused:
        await fetch_report(http, host.url.format(name="kafka"))
    assert str(refused.value).startswith(reason)
