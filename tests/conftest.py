"""Shared fixtures, and a guard that fails any test trying to leave 127.0.0.1."""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postgres_server import PostgresServer, missing_reason
from roadmap_bot import metrics
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.clock import FixedClock
from roadmap_bot.learning.catalog import Catalog, load_catalog
from roadmap_bot.store import database as store_database
from roadmap_bot.store.sql import SqlStore
from roadmap_bot.web.metrics import PrometheusRecorder

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# -- offline guard -------------------------------------------------------------------------

OFFLINE = Path(__file__).parent / "offline"
sys.path.insert(0, str(OFFLINE))
import offline_guard  # noqa: E402

# Subprocesses (the CLI, serve, benchmarks' children) load the same guard at start-up.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(OFFLINE), os.environ.get("PYTHONPATH", "")) if p
)


@pytest.fixture(autouse=True, scope="session")
def _offline() -> Iterator[None]:
    offline_guard.install()
    yield
    offline_guard.uninstall()


# -- the core ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "roadmap.db"


# -- databases: SQLite files, and a throwaway PostgreSQL server ---------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session: skipped when the binaries are missing, except
    under CI, where a missing server is a failure."""
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test PostgreSQL too: {reason}")
        pytest.skip(reason)
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


_databases = itertools.count(1)


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A new, empty database on the session's server."""
    name = f"roadmap_{os.getpid()}_{next(_databases)}"
    createdb = [str(postgres.bin / "createdb"), "-h", "127.0.0.1", "-p", str(postgres.port)]
    subprocess.run(
        [*createdb, "-U", "roadmap", name],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return postgres.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, db_path: Path) -> str:
    """Where a test's store lives, once on each engine: a SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(db_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqlStore]:
    store = await SqlStore.open(db_path)
    yield store
    await store.close()


@pytest.fixture
async def busy_store(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SqlStore]:
    """The test's store while another connection holds SQLite's write lock (as a stuck
    writer in another process would), with a 0.1 s busy timeout instead of 15 s."""
    monkeypatch.setattr(store_database, "BUSY_TIMEOUT_MS", 100)
    await store.db.engine.dispose()  # connections made from now on take the short timeout
    holder = sqlite3.connect(str(store.path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield store
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def roadmap(catalog: Catalog, store: SqlStore, clock: FixedClock) -> Roadmap:
    return Roadmap(catalog, store, clock, rng=random.Random(7))


@pytest.fixture
def alice() -> Asker:
    return Asker(id="console:alice", name="alice", channel="console:study")


@pytest.fixture
def bob() -> Asker:
    return Asker(id="console:bob", name="bob", channel="console:study")


# -- metrics -------------------------------------------------------------------------------


@pytest.fixture
def recorder() -> Iterator[PrometheusRecorder]:
    """A fresh Prometheus recorder for the test's counts; the previous one comes back after."""
    fresh = PrometheusRecorder()
    previous = metrics.install(fresh)
    yield fresh
    metrics.install(previous)
