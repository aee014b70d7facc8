"""One conditional GET of a report, with the limits that keep a bad source harmless.

Two kinds of failure, because the cache treats them differently:
:class:`SourceDown` (no answer, a timeout, 5xx, 429: keep serving the cache, try again
later) and :class:`BadReport` (the source answered with something that is not a report:
an error page, a 404, a redirect loop, too big, not UTF-8: the outline is empty).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import hdrs
from yarl import URL

MAX_BYTES = 1024 * 1024  # reports are 10-40 KB; anything near a megabyte is not one
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024
# Short: a report is small, and a card or digest must not hang on a slow source.
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=3, sock_read=5)


class SourceDown(Exception):
    """The source did not answer usefully this time; the message says how."""


class BadReport(Exception):
    """The source answered with something that is not a report; the message says what."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 200 (``text`` set) or a 304 (``text`` None), with the validators to send next time."""

    text: str | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.text is None


async def fetch_report(
    session: aiohttp.ClientSession,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    max_bytes: int | None = None,
) -> Fetched:
    """GET ``url``, conditionally when validators are given; raise SourceDown or BadReport."""
    timeout = timeout or TIMEOUT
    max_bytes = max_bytes or MAX_BYTES
    headers = {hdrs.ACCEPT: "text/markdown, text/plain;q=0.9, */*;q=0.1"}
    if etag:
        headers[hdrs.IF_NONE_MATCH] = etag
    if last_modified:
        headers[hdrs.IF_MODIFIED_SINCE] = last_modified
    try:
        # Redirects are followed here, one at a time, and only on the configured host:
        # a report source must not be able to send the bot to fetch from anywhere else
        # (an internal address, say).
        current = URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            async with session.get(
                current, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                if response.status not in REDIRECTS:
                    return await _read(response, etag, last_modified, max_bytes)
                current = _redirect_target(current, response.headers.get(hdrs.LOCATION))
        raise BadReport(f"more than {MAX_REDIRECTS} redirects (a redirect loop?)")
    except TimeoutError:
        raise SourceDown("no answer in time") from None
    except aiohttp.ClientError as exc:
        raise SourceDown(_describe(exc)) from None
    except OSError as exc:  # e.g. a refused DNS lookup that aiohttp did not wrap
        raise SourceDown(str(exc) or type(exc).__name__) from None


async def _read(
    response: aiohttp.ClientResponse, etag: str | None, last_modified: str | None, max_bytes: int
) -> Fetched:
    new_etag = response.headers.get(hdrs.ETAG) or etag
    new_modified = response.headers.get(hdrs.LAST_MODIFIED) or last_modified
    if response.status == 304:
        return Fetched(None, new_etag, new_modified)
    if response.status == 429 or response.status >= 500:
        raise SourceDown(f"HTTP {response.status}")
    if response.status != 200:
        raise BadReport(f"HTTP {response.status}")
    if response.content_type == "text/html":
        raise BadReport("an HTML page, not a Markdown report")
    if response.content_length is not None and response.content_length > max_bytes:
        raise BadReport(f"{response.content_length:,} bytes, over the {max_bytes:,}-byte limit")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > max_bytes:  # a missing or lying Content-Length: stop reading
            raise BadReport(f"over the {max_bytes:,}-byte limit")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadReport(f"not UTF-8 (byte {exc.start})") from None
    return Fetched(text, new_etag, new_modified)


def _redirect_target(current: URL, location: str | None) -> URL:
    """Where a redirect points, if we may follow it: the same host and port, http(s)."""
    if not location:
        raise BadReport("a redirect without a Location")
    try:
        target = current.join(URL(location))
    except ValueError:
        raise BadReport("a redirect to something that is not a web address") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise BadReport("a redirect to something that is not a web address")
    if (target.host, target.port) != (current.host, current.port):
        raise BadReport(
            f"a redirect to another host ({target.host}:{target.port}), not followed: reports "
            "are fetched only from the configured host"
        )
    return target


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    return str(exc) or type(exc).__name__
