"""The gate in front of Bolt: every request to ``/slack/events`` is checked here first.

Anyone on the internet can reach the endpoint, so nothing that can fail is done with a
request before its signature is checked: the body is read as bytes (within a time and a
size limit), the signature and timestamp are verified over those bytes, and only then is
it decoded and parsed. What fails gets a plain answer (401 unsigned or badly signed, 400
signed but malformed, 408 too slow, 413 too big) and one WARNING line, rate-limited so a
flood of junk cannot flood the log; never a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

BODY_TIMEOUT = 10.0  # seconds to receive a whole body once its headers are in
MAX_AGE = 5 * 60  # Slack's rule: a request signed more than five minutes ago is refused


class Refused(Exception):
    """A request we will not hand to Bolt; ``status`` and the reason are what we answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


async def read_body(request: web.Request) -> bytes:
    """The body as bytes, or Refused: too slow (408) or over the app's size limit (413)."""
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            return await request.read()
    except TimeoutError:
        raise Refused(408, "the request body did not arrive in time") from None
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, f"the body is over {request.client_max_size:,} bytes") from None


def verify(verifier: SignatureVerifier, body: bytes, request: web.Request) -> None:
    """Refused (401) unless Slack signed exactly these bytes within the last five minutes."""
    stamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    if not stamp or not signature:
        raise Refused(401, "no Slack signature headers")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise Refused(401, "the X-Slack-Request-Timestamp header is not a Unix time")
    if abs(verifier.clock.now() - int(stamp)) > MAX_AGE:
        raise Refused(401, "the signature is more than five minutes old")
    if not hmac.compare_digest(signature, signature_of(verifier.signing_secret, stamp, body)):
        raise Refused(401, "the signature does not match")


def signature_of(secret: str, stamp: str, body: bytes) -> str:
    """Slack's v0 signature over the raw bytes (slack_sdk's decodes them first, and a body
    that is not UTF-8 would raise there before it could be refused)."""
    base = b"v0:" + stamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def parse(body: bytes, request: web.Request) -> AsyncBoltRequest:
    """A signed body as a Bolt request; Refused (400) when it is not what Slack sends."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"the body is not UTF-8 (byte {exc.start})") from None
    if request.content_type == "application/json":
        _json_object(text, "the JSON body")
    elif "payload=" in text:  # interactivity; slash commands (most requests) skip this
        fields = parse_qs(text, keep_blank_values=True)
        if "payload" in fields:
            _json_object(fields["payload"][0], "the payload field")
    try:
        return AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
    except Exception as exc:  # whatever else Bolt cannot read: still the sender's fault
        raise Refused(400, f"Bolt cannot read it ({type(exc).__name__})") from None


def _json_object(text: str, what: str) -> None:
    try:
        value = json.loads(text)
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is not a JSON object")


async def accept(request: web.Request, verifier: SignatureVerifier) -> AsyncBoltRequest:
    """Read, verify, then parse; Refused with the answer for anything else."""
    body = await read_body(request)
    verify(verifier, body, request)
    return parse(body, request)
