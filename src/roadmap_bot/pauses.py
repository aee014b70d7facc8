"""Short garbage-collection pauses in a long-running ``serve`` (and less collector work
in a ``digest run-due`` fan-out, which settles the same way before it starts).

What is alive once ``serve`` has started (modules, classes, functions, the catalog,
pydantic's compiled schemas: tens of thousands of objects) lives as long as the process,
yet CPython's full collections walk all of it again, every few thousand requests, and
the request that triggers one waits (tens of milliseconds). So, once start-up is done:
one collection, then everything alive is frozen out of the collector's reach
(``gc.freeze``); a full collection walks only what was made since.

Frozen objects are never collected, even once unreachable: this is done once, at a
quiet moment (nothing in flight), right after a collection, so nothing freezes that is
about to become garbage (an in-flight request, a retry's exception).

The program does the same around its own start (``imports_frozen``): importing the
command line (settings, catalog, SQLAlchemy, pydantic) makes ~100,000 objects, nearly
all alive until the process exits (modules, classes, functions, compiled schemas), and
the collector, triggered every 700 allocations, walked them again and again as they
came (~50 ms of collections, a full one among them, finding ~700 objects of garbage).
With collections off while importing and what the imports made frozen after, later
collections walk only what the command itself makes; the few hundred objects of
import-time garbage stay.

A process that is about to exit freezes what is alive as well (``settle_before_exit``):
CPython's finalization runs several full collections while it tears the modules down,
each walking every object still alive: ~20 ms each for what a one-shot command holds
(SQLAlchemy, pydantic, the catalog), about 80 ms of ``roadmap-bot ask``'s ~480 ms. Frozen,
those objects are freed by reference counting as the modules go, and the collections
walk nothing. What is left in reference cycles is not collected (the operating system
takes the memory back); every file, connection and thread was closed before.

Young collections then come every ``YOUNG_THRESHOLD`` allocations instead of 700: a
slash command allocates a few thousand objects (its Block Kit answer alone), nearly all
freed by reference counting, so at 700 the collector ran several times per request for
almost nothing; measured with ``gc.callbacks`` in bench_slack's server, collection time
per command fell by about half. A young collection walks at most that many objects.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def settle_after_start() -> None:
    """Collect once, freeze everything alive out of later collections, and collect the
    young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    log.debug("froze %d start-up objects out of garbage collection", gc.get_freeze_count())


@contextmanager
def imports_frozen() -> Iterator[None]:
    """No collection while the body runs (it imports); what it made is then frozen."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def settle_before_exit() -> None:
    """Freeze everything alive: the interpreter's shutdown then has nothing to walk."""
    gc.freeze()
