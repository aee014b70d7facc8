"""What was built from an object, kept for that very object: renderings a fan-out shares.

A fan-out's digests of one step share their common parts as the same objects (see
``groups/digest.py``): each platform renders such a part (a section's Block Kit, the
discussion's embed) once, not once per channel.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    """``build(obj)``, kept for the last ``size`` objects it was asked about.

    Keyed by identity, not value: hashing a reply model costs about what rendering it
    does. Each entry holds its object, so an id is never reused while it is cached."""

    def __init__(self, build: Callable[[K], V], size: int = 512) -> None:
        self.build = build
        self.size = size
        self._entries: OrderedDict[int, tuple[K, V]] = OrderedDict()

    def __call__(self, obj: K) -> V:
        entry = self._entries.get(id(obj))
        if entry is not None and entry[0] is obj:
            return entry[1]
        value = self.build(obj)
        self._entries[id(obj)] = (obj, value)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return value
