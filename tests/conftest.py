"""Shared fixtures, and a guard that fails any test trying to leave 127.0.0.1."""

from __future__ import annotations

import ipaddress
import random
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from roadmap_bot.catalog import Catalog, load_catalog
from roadmap_bot.clock import FixedClock
from roadmap_bot.core import Asker, Roadmap
from roadmap_bot.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# -- offline guard -------------------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo

_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "", None}


def _is_local(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guard_address(address: Any) -> None:
    if isinstance(address, tuple) and not _is_local(address[0]):
        raise OSError(f"tests must not reach the network: connect to {address!r} refused")


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    _guard_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    _guard_address(address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local(host):
        raise OSError(f"tests must not reach the network: lookup of {host!r} refused")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _offline() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


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


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(db_path)
    yield store
    await store.close()


@pytest.fixture
def roadmap(catalog: Catalog, store: SqliteStore, clock: FixedClock) -> Roadmap:
    return Roadmap(catalog, store, clock, rng=random.Random(7))


@pytest.fixture
def alice() -> Asker:
    return Asker(id="console:alice", name="alice", channel="console:study")


@pytest.fixture
def bob() -> Asker:
    return Asker(id="console:bob", name="bob", channel="console:study")
