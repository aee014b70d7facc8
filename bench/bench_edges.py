"""What the edges cost: log redaction per record, and the gate in front of Bolt per request.

Targets (issue 10, measured against a reference in the same run):
- a redacted log record costs at most 3x an unredacted one (a server logs a few records
  per command at INFO, so this stays in the microseconds);
- checking a slash command at the gate (HMAC over the bytes, decode, payload checks, and
  building Bolt's request, which Bolt would do anyway) costs at most 2x building Bolt's
  request alone from the same body.

Run: .venv/bin/python bench/bench_edges.py  [--records N] [--requests N]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import io
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from slack_bolt.request.async_request import AsyncBoltRequest

from fakes.slack_requests import SIGNING_SECRET, form, slash_command
from roadmap_bot.adapters.slack import inbound
from roadmap_bot.logs import install_redaction


def per_record(count: int) -> float:
    """Seconds per record through a formatting handler, like serve's stderr handler."""
    logger = logging.getLogger("bench.edges")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    url = "https://discord.com/api/v10/interactions/123/aW50ZXJhY3Rpb24tdG9rZW4/callback"
    started = time.perf_counter()
    for number in range(count):
        logger.info("answered %s in %d ms via %s", "project redis", number % 50, url)
    return (time.perf_counter() - started) / count


class FakeRequest:
    """The parts of an aiohttp request the gate reads."""

    def __init__(self, body: bytes, headers: dict[str, str]) -> None:
        self.headers = headers
        self.content_type = "application/x-www-form-urlencoded"
        self.query_string = ""
        self._body = body


def gate_seconds(body: bytes, headers: dict[str, str], count: int) -> float:
    verifier: Any = type("V", (), {"signing_secret": SIGNING_SECRET, "clock": time})()
    verifier.clock = type("C", (), {"now": staticmethod(time.time)})()
    request: Any = FakeRequest(body, headers)
    started = time.perf_counter()
    for _ in range(count):
        inbound.verify(verifier, body, request)
        inbound.parse(body, request)
    return (time.perf_counter() - started) / count


def bolt_seconds(body: bytes, headers: dict[str, str], count: int) -> float:
    text = body.decode()
    started = time.perf_counter()
    for _ in range(count):
        AsyncBoltRequest(body=text, query="", headers=headers)
    return (time.perf_counter() - started) / count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()

    plain = per_record(args.records)
    install_redaction(["xoxb-bench-token", "bench-signing-secret"])
    redacted = per_record(args.records)
    ratio = redacted / plain
    print(
        f"log record: plain {plain * 1e6:.1f} us, redacted {redacted * 1e6:.1f} us, "
        f"ratio {ratio:.2f}x (target <= 3x): {'OK' if ratio <= 3 else 'MISSED'}"
    )

    body = form(slash_command("project redis", response_url="https://hooks.slack.com/x")).encode()
    stamp = str(int(time.time()))
    signature = (
        "v0="
        + hmac.new(
            SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
        ).hexdigest()
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }
    gate = gate_seconds(body, headers, args.requests)
    bolt = bolt_seconds(body, headers, args.requests)
    ratio = gate / bolt
    print(
        f"slash command: gate {gate * 1e6:.1f} us, Bolt's request parsing {bolt * 1e6:.1f} us, "
        f"ratio {ratio:.2f}x (target <= 2x): {'OK' if ratio <= 2 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
