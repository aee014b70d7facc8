"""What strangers on the internet get from /slack/events: malformed, unsigned, slow or huge
requests are answered plainly (401 / 400 / 408 / 413), logged once (rate-limited) as a
WARNING, never with a traceback, and never reach Bolt or the core."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import socket
import time

import pytest

from fakes.slack_driver import SlackDriver
from fakes.slack_requests import SIGNING_SECRET, form, signed_headers, slash_command
from roadmap_bot.adapters.slack import inbound
from roadmap_bot.adapters.slack.server import EVENTS_PATH
from roadmap_bot.logs import WarningLimiter
from roadmap_bot.web import server as web_server


async def post_raw(slack: SlackDriver, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with slack.http.post(slack.base + EVENTS_PATH, data=body, headers=headers) as answer:
        return answer.status, await answer.text()


def signed(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    """Headers as Slack sends them, signed over the raw bytes (as Slack does)."""
    stamp = str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


FORM = "application/x-www-form-urlencoded"
# Headers signed now with the wrong secret: built when the test runs, not when the module
# is collected (a long suite would otherwise make them stale, a different refusal).
WRONG_SECRET = "wrong secret"
UNSIGNED = [
    (b"{x", {"Content-Type": "application/json"}, "no Slack signature headers"),
    (b"payload=%7B", {"Content-Type": FORM}, "no Slack signature headers"),
    (b"\xff\xfe\x00junk", {"Content-Type": FORM}, "no Slack signature headers"),
    (
        b"text=help",
        {"Content-Type": FORM, "X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=1"},
        "the X-Slack-Request-Timestamp header is not a Unix time",
    ),
    (
        b"text=help",
        {"Content-Type": FORM, "X-Slack-Request-Timestamp": "1" * 40, "X-Slack-Signature": "v0=1"},
        "the X-Slack-Request-Timestamp header is not a Unix time",
    ),
    (
        b"text=help",
        {"Content-Type": FORM, **signed_headers("text=help", timestamp=int(time.time()) - 600)},
        "the signature is more than five minutes old",
    ),
    (
        b"text=help",
        WRONG_SECRET,
        "the signature does not match",
    ),
]


def fresh(headers: dict[str, str] | str) -> dict[str, str]:
    if headers == WRONG_SECRET:
        return {"Content-Type": FORM, **signed_headers("text=help", secret="not-the-secret")}
    assert isinstance(headers, dict)
    return headers


@pytest.mark.parametrize(("body", "headers", "reason"), UNSIGNED)
async def test_unsigned_or_badly_signed_requests_get_401_and_one_warning(
    slack: SlackDriver,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    headers: dict[str, str] | str,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    status, text = await post_raw(slack, body, fresh(headers))
    assert (status, text) == (401, reason)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"refused a request to /slack/events from 127.0.0.1: 401, {reason}"
    ]
    assert "Traceback" not in caplog.text
    assert slack.fake.calls == []  # nothing reached Bolt or the core


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{x", "application/json", "the JSON body is not JSON"),
        (b"[1, 2]", "application/json", "the JSON body is not a JSON object"),
        (b"payload=%7B", FORM, "the payload field is not JSON"),
        (b"payload=%5B%5D", FORM, "the payload field is not a JSON object"),
        (b"text=\xff\xfe", FORM, "the body is not UTF-8 (byte 5)"),
    ],
)
async def test_signed_but_malformed_requests_get_400(
    slack: SlackDriver,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    status, text = await post_raw(slack, body, signed(body, content_type))
    assert (status, text) == (400, reason)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [f"refused a request to /slack/events from 127.0.0.1: 400, {reason}"]
    assert "Traceback" not in caplog.text


async def test_300_junk_requests_write_ten_warning_lines_and_commands_still_work(
    slack: SlackDriver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    statuses = []
    for index in range(300):
        body, headers, _ = UNSIGNED[index % len(UNSIGNED)]
        statuses.append((await post_raw(slack, body, fresh(headers)))[0])
    assert set(statuses) == {401}
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(logged) == 10  # the limiter's allowance for a minute
    assert all("\n" not in r.getMessage() for r in logged)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # a real command still gets its answer
    answer = await slack.command("project redis")
    assert answer["blocks"][0]["text"]["text"] == "Redis"


def test_the_limiter_says_how_many_it_held_back(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = WarningLimiter(
        logging.getLogger("test.limiter"), limit=2, window=60, clock=lambda: now[0]
    )
    caplog.set_level(logging.WARNING)
    for number in range(5):
        limiter.warn("junk %d", number)
    now[0] = 61.0
    limiter.warn("junk %d", 5)
    assert [r.getMessage() for r in caplog.records] == [
        "junk 0",
        "junk 1",
        "junk 5 (3 more like it not logged)",
    ]


async def test_a_body_over_the_limit_gets_413(slack: SlackDriver) -> None:
    body = b"text=" + b"a" * (web_server.MAX_BODY + 10)
    status, text = await post_raw(slack, body, signed(body))
    assert status == 413
    assert text == f"the body is over {web_server.MAX_BODY:,} bytes"


async def test_a_signed_command_with_odd_but_valid_content_still_works(slack: SlackDriver) -> None:
    url = slack.new_response_url()
    fields = slash_command("help", response_url=url)
    status, _ = await post_raw(slack, form(fields).encode(), signed(form(fields).encode()))
    assert status == 200


# -- slow clients: real sockets ------------------------------------------------------------------


def address(slack: SlackDriver) -> tuple[str, int]:
    host, port = slack.base.removeprefix("http://").split(":")
    return host, int(port)


async def trickle(sock: socket.socket, data: bytes, every: float, limit: float) -> float:
    """Send ``data`` a byte at a time; the seconds until the server hung up (or ``limit``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for byte in data:
        try:
            await loop.sock_sendall(sock, bytes([byte]))
        except OSError:
            return loop.time() - started
        await asyncio.sleep(every)
        if loop.time() - started > limit:
            break
    sock.setblocking(False)
    try:
        closed = await asyncio.wait_for(loop.sock_recv(sock, 1024), 0.5)
    except TimeoutError:
        return limit
    return loop.time() - started if not closed or b"408" in closed else limit


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_server, "HEADER_TIMEOUT", 0.5)
    monkeypatch.setattr(inbound, "BODY_TIMEOUT", 0.5)


@pytest.fixture
async def slow_slack(short_timeouts: None, slack: SlackDriver) -> SlackDriver:
    return slack


async def test_a_client_trickling_its_headers_is_cut_off(slow_slack: SlackDriver) -> None:
    head = b"POST /slack/events HTTP/1.1\r\nHost: x\r\n" + b"X-Padding: " + b"a" * 200
    with socket.create_connection(address(slow_slack)) as sock:
        sock.setblocking(False)
        held = await trickle(sock, head, every=0.02, limit=4.0)
    assert held < 2.0  # cut off after the 0.5 s header timeout, not left hanging


async def test_a_client_trickling_its_body_gets_408(slow_slack: SlackDriver) -> None:
    body = b"text=" + b"a" * 200
    headers = signed(body)
    head = (
        f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    with socket.create_connection(address(slow_slack)) as sock:
        sock.setblocking(False)
        await loop.sock_sendall(sock, head)
        for byte in body[:20]:
            await loop.sock_sendall(sock, bytes([byte]))
            await asyncio.sleep(0.05)
        answer = await asyncio.wait_for(loop.sock_recv(sock, 4096), 2.0)
    assert answer.startswith(b"HTTP/1.1 408")
    assert answer.endswith(b"the request body did not arrive in time")


@pytest.mark.parametrize(
    "junk",
    [
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",  # TLS spoken to a plain-HTTP port
    ],
)
async def test_requests_that_are_not_http_get_400_without_a_traceback(
    slack: SlackDriver, caplog: pytest.LogCaptureFixture, junk: bytes
) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await asyncio.open_connection(*address(slack))
    writer.write(junk)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(100), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.0 400 Bad Request")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) <= 1 and all(
        w.startswith("refused a malformed HTTP request: 400") for w in warned
    )
