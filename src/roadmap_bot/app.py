"""The composition root: settings -> catalog, store, clock and core, wired once.

Adapters and CLI commands receive an :class:`App`; nothing reaches for a global.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from roadmap_bot.catalog import Catalog, load_catalog
from roadmap_bot.clock import Clock, SystemClock
from roadmap_bot.config import Settings
from roadmap_bot.core import Roadmap
from roadmap_bot.store.sqlite import SqliteStore

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    catalog: Catalog
    store: SqliteStore
    clock: Clock
    roadmap: Roadmap


@asynccontextmanager
async def open_app(
    settings: Settings, *, clock: Clock | None = None, catalog: Catalog | None = None
) -> AsyncIterator[App]:
    """Load the catalog, open the store and build the core; close it all on exit."""
    catalog = catalog or load_catalog(settings.catalog)
    store = await SqliteStore.open(settings.db)
    try:
        clock = clock or SystemClock()
        roadmap = Roadmap(catalog, store, clock)
        yield App(settings, catalog, store, clock, roadmap)
    finally:
        await store.close()
