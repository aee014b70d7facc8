"""``GET /healthz``: ready only when the database answers (and the platform link is up).

A load balancer sends traffic only to ready replicas, and a replica whose database is
unreachable can answer nothing useful, so readiness asks the database a cheap question
with a short deadline. The answer names what is wrong, for whoever reads the 503.

Each adapter's state is in the answer too (``"adapters": {"slack": "ok", "discord":
"connecting (retry 3 in 8 s; ...)"}``), but a Discord gateway that is reconnecting does
not make the replica unready: Slack's HTTP requests are routed to it by that same
readiness, and it still answers them (and serves the pages) while Discord comes back by
itself. Slack's Socket Mode link is the exception kept from before: it is the replica's
only way to hear Slack there, so a lost link is a readiness problem.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from roadmap_bot.store import Store

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
DATABASE_TIMEOUT = 2.0  # seconds; a database slower than this cannot serve commands either
PROBE_KEY = "health.probe"  # a meta key read (never written) just to reach the database

# Extra readiness checks (e.g. Slack's Socket Mode connection): None when fine, else why not.
Check = Callable[[], Awaitable[str | None]]


async def database_problem(store: Store, timeout: float = DATABASE_TIMEOUT) -> str | None:
    """None when the database answers a read within ``timeout``, else what went wrong."""
    try:
        await asyncio.wait_for(store.get_meta(PROBE_KEY), timeout)
    except TimeoutError:
        return f"the database did not answer within {timeout:g} s"
    except Exception as problem:  # any failure means not ready; the reason is shown
        return f"the database failed: {type(problem).__name__}: {problem}"
    return None


def health_handler(
    store: Store,
    checks: dict[str, Check] | None = None,
    *,
    details: dict[str, str] | None = None,
    timeout: float = DATABASE_TIMEOUT,
    adapters: Callable[[], dict[str, str]] | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """200 ``{"ok": true, **details}`` when ready; 503 with ``problems`` (what is wrong).
    Either way ``adapters`` (when given) reports each adapter's state."""

    async def health(request: web.Request) -> web.Response:
        problems: dict[str, str] = {}
        shown: dict[str, object] = dict(details or {})
        if adapters is not None:
            shown["adapters"] = adapters()
        database = await database_problem(store, timeout)
        if database is not None:
            problems["database"] = database
        for name, check in (checks or {}).items():
            problem = await check()
            if problem is not None:
                problems[name] = problem
        if problems:
            log.warning("not ready: %s", "; ".join(f"{k}: {v}" for k, v in problems.items()))
            return web.json_response({"ok": False, **shown, "problems": problems}, status=503)
        return web.json_response({"ok": True, **shown})

    return health
