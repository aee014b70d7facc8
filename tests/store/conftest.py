"""The store's tests run on both engines: SQLite and a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from roadmap_bot.store.sql import SqlStore


@pytest.fixture
async def store(database: str) -> AsyncIterator[SqlStore]:
    store = await SqlStore.open(database)
    yield store
    await store.close()
