"""Our routes when no Slack server carries them (a Discord-only replica)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.store.sql import SqlStore
from roadmap_bot.web.metrics import PrometheusRecorder
from roadmap_bot.web.server import add_routes, serving_application


async def test_health_and_metrics_on_their_own_server(
    recorder: PrometheusRecorder, roadmap: Roadmap, store: SqlStore
) -> None:
    someone = Asker(id="discord:1:2", name="someone")
    assert (await roadmap.ask("next", someone)).ok
    application = web.Application()
    add_routes(application, store)
    async with (
        serving_application(application, "127.0.0.1", 0) as (host, port),
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"http://{host}:{port}/healthz") as health:
            assert health.status == 200
            assert await health.json() == {"ok": True}
        async with http.get(f"http://{host}:{port}/metrics") as scraped:
            text = await scraped.text()
        assert 'roadmap_commands_total{kind="next",outcome="ok",platform="discord"} 1.0' in text
        await store.close()
        async with http.get(f"http://{host}:{port}/healthz") as health:
            assert health.status == 503
            assert "database" in (await health.json())["problems"]
