"""``GET /metrics``: the bot's counts in Prometheus' text format (prometheus-client).

:class:`PrometheusRecorder` is the :class:`roadmap_bot.metrics.Recorder` that ``serve``
installs. It keeps its own registry rather than prometheus-client's global one, so a
test (or a second app in one process) reads exactly the counts it produced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

METRICS_PATH = "/metrics"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Most commands answer in a millisecond or two; the ack budget on Slack is 1.5 s.
COMMAND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 3.0, 10.0)


class PrometheusRecorder:
    """Counters, gauges and histograms behind ``/metrics``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.commands = Counter(
            "roadmap_commands",
            "Commands answered, by platform, kind and outcome (ok, refused, error).",
            ["platform", "kind", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "roadmap_command_seconds",
            "Time the core took to answer a command, by kind.",
            ["kind"],
            buckets=COMMAND_BUCKETS,
            registry=self.registry,
        )
        self.digests = Counter(
            "roadmap_digests",
            "Weekly posts finished, by platform and outcome (delivered, failed).",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "roadmap_digests_in_progress",
            "Weekly posts being delivered right now, by platform.",
            ["platform"],
            registry=self.registry,
        )
        self.limited = Counter(
            "roadmap_rate_limited",
            "429 answers (rate limits) from a platform.",
            ["platform"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self.takeovers = Counter(
            "roadmap_lease_takeovers",
            "Deliveries taken over after another worker's lease expired.",
            ["platform"],
            registry=self.registry,
        )

    def command(self, platform: str, kind: str, outcome: str, seconds: float) -> None:
        # Every command passes here: keep the labelled children instead of asking
        # prometheus-client to look them up (a lock and a dict) twice per command.
        key = (platform, kind, outcome)
        children = self._children.get(key)
        if children is None:
            children = (self.commands.labels(*key), self.latency.labels(kind))
            self._children[key] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)

    def digest(self, platform: str, outcome: str) -> None:
        self.digests.labels(platform, outcome).inc()

    def digests_in_progress(self, platform: str, change: int) -> None:
        self.in_progress.labels(platform).inc(change)

    def rate_limited(self, platform: str) -> None:
        self.limited.labels(platform).inc()

    def lease_takeover(self, platform: str) -> None:
        self.takeovers.labels(platform).inc()

    def exposition(self) -> bytes:
        """Everything, in the text format Prometheus scrapes."""
        return generate_latest(self.registry)


def metrics_handler(recorder: PrometheusRecorder) -> Handler:
    """The aiohttp handler serving ``recorder``'s figures."""

    async def handler(request: web.Request) -> web.Response:
        response = web.Response(body=recorder.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    return handler
