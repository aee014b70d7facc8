"""A fake Slack for tests and benchmarks: Web API, response_urls and Socket Mode.

An aiohttp server on 127.0.0.1 (port 0) that records every call and answers like Slack:
``/api/<method>`` for the Web API (point ``SLACK_API_URL`` at :attr:`FakeSlack.api_url`),
``/response/<name>`` for response_urls (:meth:`FakeSlack.response_url`) and a Socket
Mode WebSocket that ``apps.connections.open`` hands out.

Knobs, for the adapter's tests and for digest delivery (429s, slow calls, channels that
are gone):

- ``latency[method] = seconds`` (``"*"`` for every method): the server waits that long;
- ``script(method, Answer(...), ...)``: the next calls to ``method`` get these answers in
  order (an HTTP status, a body, headers such as Retry-After, a delay), then normal ones;
- ``fail(method, "ratelimited", status=429, retry_after=1)`` / ``fail(method, "x")``:
  shorthands for a scripted answer, ``times`` over;
- ``channel_errors[channel] = "channel_not_found"``: every chat.postMessage there fails
  that way (``not_in_channel``, ``is_archived``, ...);
- ``rate_limit(method, ratio=0.02, retry_after=1.0)``: a seeded share of calls gets 429;
- ``hold(method)``: calls to ``method`` wait until the returned event is set (to see
  what happens while Slack has not answered yet);
- ``tokens``: when set, calls without one of these bearer tokens get ``invalid_auth``;
- ``per_channel[method] = seconds``: two calls in one channel closer than that get a 429
  with Retry-After (Slack's one message per second per channel);
- ``now``: the clock message timestamps are taken from (tests pass their FixedClock's);
- ``lose_answers[method] = n``: the next n calls are carried out (a message is posted)
  but answered with a 502, as when a proxy drops Slack's answer;
- ``ambiguous[method] = ["internal_error", ...]``: the next calls are carried out, then
  answered ``ok: false`` with these errors in order (Slack's "some aspect of the
  operation may have succeeded"; an empty string: that call is answered normally);
- ``script_channel(method, channel, Answer(...), ...)``: like ``script``, for calls to one
  channel only (a 429 with a long Retry-After for one channel, the others untouched);
- ``stall(method, where, carry_out=False)``: matching calls are recorded but not answered
  until the returned event is set (a process killed while waiting on Slack); with
  ``carry_out`` the message is posted first, as when the answer is what got lost.

Messages posted with chat.postMessage are kept per channel (with their metadata and
thread) and returned by conversations.history / conversations.replies.

OAuth installs (many workspaces): ``GET /oauth/v2/authorize`` plays Slack's consent page
(the installer approves at once) and redirects to the app's redirect URL with a code
and the state; ``oauth.v2.access`` trades the code (client id and secret in Basic auth)
for a bot token of that workspace; ``auth.test`` answers for the token's workspace;
:meth:`FakeSlack.uninstall` revokes a workspace's tokens (calls then get
``token_revoked``). Point ``SLACK_AUTHORIZE_URL`` at :attr:`FakeSlack.authorize_url`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from aiohttp import WSMsgType, web

JSON = dict[str, Any]


@dataclass
class Call:
    """One request the fake received."""

    method: str  # a Web API method ("chat.postMessage"), "response_url" or "socket_ack"
    params: JSON  # query, form and JSON body together
    headers: dict[str, str]
    path: str = ""
    at: float = 0.0  # time.monotonic() when it arrived
    status: int = 200  # what the fake answered

    @property
    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


@dataclass
class Answer:
    """A scripted answer: status, JSON body (or text), headers, and a delay first."""

    status: int = 200
    body: JSON | None = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    until: asyncio.Event | None = None  # answered only once this is set (after the delay)


@dataclass
class _RateLimit:
    ratio: float
    retry_after: float
    rng: random.Random


class FakeSlack:
    def __init__(
        self,
        *,
        team: str = "T1",
        bot_user: str = "UBOT",
        tokens: set[str] | None = None,
    ) -> None:
        self.team = team
        self.bot_user = bot_user
        self.tokens = tokens
        self.calls: list[Call] = []
        self.users: dict[str, JSON] = {}
        self.latency: dict[str, float] = {}
        self.channel_errors: dict[str, str] = {}
        self.messages: dict[str, list[JSON]] = defaultdict(list)
        self.views: dict[str, JSON] = {}
        self._scripts: dict[str, deque[Answer]] = defaultdict(deque)
        self._limits: dict[str, _RateLimit] = {}
        self.per_channel: dict[str, float] = {}
        self.lose_answers: dict[str, int] = {}
        self.ambiguous: dict[str, list[str]] = {}
        self._channel_scripts: dict[tuple[str, str], deque[Answer]] = defaultdict(deque)
        self._stalls: list[tuple[str, Callable[[JSON], bool], bool, asyncio.Event]] = []
        self._last_in_channel: dict[tuple[str, str], float] = {}
        self.now: Callable[[], float] = time.time
        self._gates: dict[str, asyncio.Event] = {}
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_acks: dict[str, asyncio.Future[JSON]] = {}
        self._socket_open = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""
        # OAuth: the app's credentials and redirect URL as registered with Slack.
        self.client_id = "1111.2222"
        self.client_secret = "fake-client-secret"
        self.redirect_url = ""
        self.team_names: dict[str, str] = {}
        self.token_teams: dict[str, str] = {}  # bot token -> workspace
        self.revoked: set[str] = set()
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (team, scopes)
        self._minted = itertools.count(1)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        application = web.Application()
        application.router.add_route("*", "/api/{method}", self._api)
        application.router.add_post("/response/{name}", self._response_url)
        application.router.add_get("/socket", self._socket)
        application.router.add_get("/oauth/v2/authorize", self._authorize)
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/oauth/v2/authorize"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    # -- knobs ------------------------------------------------------------------------------

    def script(self, method: str, *answers: Answer) -> None:
        self._scripts[method].extend(answers)

    def fail(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        status: int = 200,
        retry_after: float | None = None,
    ) -> None:
        headers = {"Retry-After": _number(retry_after)} if retry_after is not None else {}
        body = {"ok": False, "error": error}
        self.script(method, *(Answer(status, body, headers=headers) for _ in range(times)))

    def rate_limit(
        self, method: str, *, ratio: float, retry_after: float = 1.0, seed: int = 1
    ) -> None:
        self._limits[method] = _RateLimit(ratio, retry_after, random.Random(seed))

    def script_channel(self, method: str, channel: str, *answers: Answer) -> None:
        self._channel_scripts[(method, channel)].extend(answers)

    def stall(
        self,
        method: str,
        where: Callable[[JSON], bool] = lambda _: True,
        *,
        carry_out: bool = False,
    ) -> asyncio.Event:
        """Matching calls are recorded (and carried out with ``carry_out``), then wait
        unanswered until the returned event is set; they are answered 502 then."""
        gate = asyncio.Event()
        self._stalls.append((method, where, carry_out, gate))
        return gate

    def uninstall(self, team: str) -> None:
        """The workspace removes the app: its bot tokens stop working (token_revoked)."""
        for token, owner in list(self.token_teams.items()):
            if owner == team:
                self.revoked.add(token)
                if self.tokens is not None:
                    self.tokens.discard(token)

    def hold(self, method: str) -> asyncio.Event:
        """Calls to ``method`` are recorded, then wait for the returned event before answering."""
        gate = self._gates[method] = asyncio.Event()
        return gate

    # -- what happened ------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def responses(self, name: str | None = None) -> list[JSON]:
        """Bodies posted to response_urls (to one, by name), oldest first."""
        return [
            c.params
            for c in self.calls
            if c.method == "response_url" and (name is None or c.path.endswith(f"/{name}"))
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 30.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until ``count`` calls to ``method`` (matching ``where``) have arrived.
        ``timeout`` is a safety net only: a busy machine (a replica process answering a
        click, say) may take seconds, and a passing test never waits for it."""

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method) if where is None or where(c)]

        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(matching()) >= count), timeout
            )
        return matching()

    # -- Socket Mode ----------------------------------------------------------------------------

    async def socket_send(
        self,
        kind: str,
        payload: JSON,
        *,
        timeout: float = 30.0,  # a safety net only, as in wait_for
        accepts_response_payload: bool = False,
    ) -> JSON:
        """Send an envelope (``slash_commands``, ``interactive``, ``events_api``); return the ack."""
        await asyncio.wait_for(self._socket_open.wait(), timeout)
        envelope_id = str(uuid.uuid4())
        done: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._socket_acks[envelope_id] = done
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await asyncio.wait_for(done, timeout)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "connection_info": {"app_id": "A1"},
                    "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                }
            )
        )
        self._socket_open.set()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                await self._record(Call("socket_ack", data, {}, "/socket", time.monotonic()))
                waiting = self._socket_acks.pop(str(data.get("envelope_id")), None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(data)
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_open.clear()
        return ws

    # -- HTTP -------------------------------------------------------------------------------------

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.can_read_body:
            # orjson: benchmarks run this fake beside the bot on the same cores, and the
            # standard json module took a quarter of the fake's CPU
            raw = await request.read()
            if request.content_type == "application/json":
                params.update(orjson.loads(raw or b"{}"))
            else:
                params.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
        return params

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._params(request)
        headers = dict(request.headers)
        call = Call(method, params, headers, request.path, time.monotonic())
        delay = self.latency.get(method, self.latency.get("*", 0.0))
        for stalled, where, carry_out, gate in self._stalls:
            if stalled == method and where(params):
                if carry_out:
                    self._default(method, params)
                call.status = 502
                await self._record(call)
                await gate.wait()
                return _http(Answer(502, text="<html>502 Bad Gateway</html>"))
        channel_script = self._channel_scripts.get((method, str(params.get("channel"))))
        answer = (
            (channel_script.popleft() if channel_script else None)
            or self._scripted(method)
            or self._paced(method, params)
        )
        if answer is None and call.token in self.revoked:
            answer = Answer(200, {"ok": False, "error": "token_revoked"})
        signed_in = method == "oauth.v2.access" or call.token in (self.tokens or ())
        if answer is None and self.tokens is not None and not signed_in:
            answer = Answer(200, {"ok": False, "error": "invalid_auth"})
        if answer is None and method == "oauth.v2.access":
            answer = Answer(200, self._oauth_access(params, headers))
        if answer is None:
            answer = Answer(200, self._default(method, params, call.token))
            if self.lose_answers.get(method):
                self.lose_answers[method] -= 1
                answer = Answer(502, text="<html>502 Bad Gateway</html>")
            elif self.ambiguous.get(method) and answer.body and answer.body.get("ok"):
                error = self.ambiguous[method].pop(0)  # "": this one is answered normally
                if error:
                    answer = Answer(200, {"ok": False, "error": error})
        call.status = answer.status
        await self._record(call)
        await self._wait(method, delay + answer.delay)
        if answer.until is not None:
            await answer.until.wait()
        return _http(answer)

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        params = await self._params(request)
        call = Call("response_url", params, dict(request.headers), request.path, time.monotonic())
        answer = self._scripted("response_url") or Answer(200, text="ok")
        call.status = answer.status
        await self._record(call)
        await self._wait("response_url", self.latency.get("response_url", 0.0) + answer.delay)
        return _http(answer)

    async def _wait(self, method: str, delay: float) -> None:
        gate = self._gates.get(method)
        if gate is not None:
            await gate.wait()
        if delay:
            await asyncio.sleep(delay)

    def _scripted(self, method: str) -> Answer | None:
        queue = self._scripts.get(method)
        if queue:
            return queue.popleft()
        limit = self._limits.get(method)
        if limit is not None and limit.rng.random() < limit.ratio:
            return Answer(
                429,
                {"ok": False, "error": "ratelimited"},
                headers={"Retry-After": _number(limit.retry_after)},
            )
        return None

    def _paced(self, method: str, params: JSON) -> Answer | None:
        interval = self.per_channel.get(method)
        if not interval:
            return None
        key, now = (method, str(params.get("channel"))), time.monotonic()
        last = self._last_in_channel.get(key)
        if last is not None and now - last < interval:
            wait = interval - (now - last)
            return Answer(
                429,
                {"ok": False, "error": "ratelimited"},
                headers={"Retry-After": _number(max(1, round(wait)))},
            )
        self._last_in_channel[key] = now
        return None

    # -- Slack's answers ---------------------------------------------------------------------------

    def _default(self, method: str, params: JSON, token: str | None = None) -> JSON:
        if method == "auth.test" and token in self.token_teams:
            team = self.token_teams[str(token)]
            return {**self._m_auth_test(params), "team_id": team, "user_id": f"UBOT{team}"}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        return handler(params) if handler is not None else {"ok": True}

    def _next_ts(self) -> str:
        # Real-looking, strictly increasing: seconds from ``now``, a counter as the fraction.
        return f"{int(self.now())}.{next(self._ts):06d}"

    def _m_auth_test(self, params: JSON) -> JSON:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake Team",
            "user": "roadmap-bot",
            "team_id": self.team,
            "user_id": self.bot_user,
            "bot_id": "B1",
        }

    # -- OAuth ----------------------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        """Slack's consent page, approved at once: back to the app with a code."""
        query = request.query
        await self._record(Call("oauth.authorize", dict(query), dict(request.headers), "/oauth"))
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid client_id")
        target = query.get("redirect_uri") or self.redirect_url
        if not target:
            return web.Response(status=400, text="no redirect URL registered for the app")
        team = query.get("team") or self.team
        code = f"code-{uuid.uuid4().hex}"
        self._codes[code] = (team, query.get("scope", ""))
        back = {"code": code, "state": query.get("state", "")}
        raise web.HTTPFound(f"{target}?{urlencode(back)}")

    def _oauth_access(self, params: JSON, headers: dict[str, str]) -> JSON:
        basic = headers.get("Authorization", "").removeprefix("Basic ")
        client_id, _, secret = base64.b64decode(basic or "").decode().partition(":")
        if (client_id, secret) != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client"}
        found = self._codes.pop(str(params.get("code")), None)
        if found is None:
            return {"ok": False, "error": "invalid_code"}
        team, scopes = found
        token = f"xoxb-{team}-{next(self._minted)}"
        self.token_teams[token] = team
        if self.tokens is not None:
            self.tokens.add(token)
        return {
            "ok": True,
            "app_id": "A1",
            "authed_user": {"id": "UINSTALLER"},
            "scope": scopes,
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": f"UBOT{team}",
            "team": {"id": team, "name": self.team_names.get(team, f"Team {team}")},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _m_users_info(self, params: JSON) -> JSON:
        user = self.users.get(str(params.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_apps_connections_open(self, params: JSON) -> JSON:
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}

    def _m_views_publish(self, params: JSON) -> JSON:
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        self.views[str(params.get("user_id"))] = view
        return {"ok": True, "view": {"id": "V1", **(view or {})}}

    def _m_chat_postMessage(self, params: JSON) -> JSON:
        channel = str(params.get("channel"))
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        message = {
            "type": "message",
            "ts": self._next_ts(),
            "user": self.bot_user,
            "bot_id": "B1",
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
        }
        for key in ("metadata", "thread_ts"):
            if params.get(key):
                message[key] = params[key]
        self.messages[channel].append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _m_chat_postEphemeral(self, params: JSON) -> JSON:
        channel = str(params.get("channel"))
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, params: JSON) -> JSON:
        channel, ts = str(params.get("channel")), str(params.get("ts"))
        for message in self.messages.get(channel, []):
            if message["ts"] == ts:
                message.update(
                    {k: params[k] for k in ("text", "blocks", "metadata") if k in params}
                )
                return {"ok": True, "channel": channel, "ts": ts}
        return {"ok": False, "error": "message_not_found"}

    def _m_conversations_history(self, params: JSON) -> JSON:
        channel = str(params.get("channel"))
        if channel in self.channel_errors:
            return {"ok": False, "error": self.channel_errors[channel]}
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        limit = int(params.get("limit") or 100)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [
            _shown(m, with_metadata)
            for m in reversed(self.messages.get(channel, []))
            if "thread_ts" not in m and oldest <= float(m["ts"]) <= latest
        ]
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _m_conversations_replies(self, params: JSON) -> JSON:
        channel, ts = str(params.get("channel")), str(params.get("ts"))
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        thread = [
            _shown(m, with_metadata)
            for m in self.messages.get(channel, [])
            if m["ts"] == ts or m.get("thread_ts") == ts
        ]
        return {"ok": True, "messages": thread, "has_more": False}


def _shown(message: JSON, with_metadata: bool) -> JSON:
    return message if with_metadata else {k: v for k, v in message.items() if k != "metadata"}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _http(answer: Answer) -> web.Response:
    if answer.text is not None:
        return web.Response(status=answer.status, text=answer.text, headers=answer.headers)
    return web.json_response(
        answer.body or {"ok": True}, status=answer.status, headers=answer.headers, dumps=_dumps
    )


def _dumps(body: JSON) -> str:
    return orjson.dumps(body).decode()
