"""The composition root: settings -> catalog, store, clock, core and features, wired once.

Adapters and CLI commands receive an :class:`App`; nothing reaches for a global.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from roadmap_bot.adapters.console import ConsolePoster
from roadmap_bot.catalog import Catalog, load_catalog
from roadmap_bot.clock import Clock, SystemClock
from roadmap_bot.config import Settings
from roadmap_bot.core import Roadmap
from roadmap_bot.delivery import Deliverer
from roadmap_bot.store.sqlite import SqliteStore
from roadmap_bot.study_groups import StudyGroups

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    catalog: Catalog
    store: SqliteStore
    clock: Clock
    roadmap: Roadmap
    deliverer: Deliverer
    study_groups: StudyGroups


@asynccontextmanager
async def open_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    catalog: Catalog | None = None,
    console_out: TextIO | None = None,
) -> AsyncIterator[App]:
    """Load the catalog, open the store and build the core; close it all on exit."""
    catalog = catalog or load_catalog(settings.catalog)
    store = await SqliteStore.open(settings.db)
    try:
        clock = clock or SystemClock()
        roadmap = Roadmap(catalog, store, clock)
        deliverer = Deliverer(
            catalog,
            store,
            clock,
            {"console": ConsolePoster(console_out)},
            catchup=timedelta(hours=settings.catchup_hours),
        )
        groups = StudyGroups(roadmap, deliverer, settings.default_timezone)
        yield App(settings, catalog, store, clock, roadmap, deliverer, groups)
    finally:
        await store.close()
