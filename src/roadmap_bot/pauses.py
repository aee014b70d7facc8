"""Short garbage-collection pauses in a long-running ``serve``.

What is alive once ``serve`` has started (modules, classes, functions, the catalog,
pydantic's compiled schemas: tens of thousands of objects) lives as long as the process,
yet CPython's full collections walk all of it again, every few thousand requests, and
the request that triggers one waits (tens of milliseconds). So, once start-up is done:
one collection, then everything alive is frozen out of the collector's reach
(``gc.freeze``); a full collection walks only what was made since.

Frozen objects are never collected, even once unreachable: this is done once, at a
quiet moment (nothing in flight), right after a collection, so nothing freezes that is
about to become garbage (an in-flight request, a retry's exception).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle_after_start() -> None:
    """Collect once, then freeze everything alive out of later collections."""
    gc.collect()
    gc.freeze()
    log.debug("froze %d start-up objects out of garbage collection", gc.get_freeze_count())
