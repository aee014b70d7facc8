"""After start-up, serve's long-lived objects leave the collector's reach; garbage does not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from roadmap_bot.pauses import imports_frozen, settle_after_start, settle_before_exit


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # this test process goes on collecting as before
    gc.set_threshold(*thresholds)


def test_live_objects_are_frozen_and_garbage_is_collected_first(unfrozen: None) -> None:
    kept = Node()
    garbage = weakref.ref(Node())  # unreachable, in a cycle: gone only after a collection
    settle_after_start()
    assert garbage() is None  # collected, not frozen for the life of the process
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())  # no collection walks it again


def test_before_exit_everything_alive_leaves_the_collectors_reach(unfrozen: None) -> None:
    # what the interpreter's shutdown collections would walk, object by object
    kept = Node()
    settle_before_exit()
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())


def test_what_the_imports_made_is_frozen_and_collections_resume(unfrozen: None) -> None:
    with imports_frozen():
        assert not gc.isenabled()  # no collection walks the imports as they come
        made = Node()
    assert gc.isenabled()
    assert not any(obj is made for obj in gc.get_objects())
    garbage = weakref.ref(Node())  # what the command makes is collected as before
    gc.collect()
    assert garbage() is None
