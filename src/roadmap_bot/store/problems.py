"""What went wrong with the database, in an operator's words.

A database error can surface anywhere (opening, a command's write, a delivery's claim)
and wrapped in other exceptions (aiosqlite, SQLAlchemy, our StoreError). Two kinds are
conditions of the file rather than bugs, and each has its own answer: *busy* (another
process held the write lock longer than the busy timeout: wait and try again) and
*corrupt* (the file is not a usable database: restore it from a backup).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

Kind = Literal["busy", "corrupt"]

_BUSY = ("database is locked", "database is busy", "database table is locked")
_CORRUPT = (
    "file is not a database",
    "database disk image is malformed",
    "file is encrypted or is not a database",
    "malformed database schema",
)


@dataclass(frozen=True)
class DatabaseProblem:
    kind: Kind
    detail: str  # the driver's own words, e.g. 'database is locked'

    def line(self, where: str) -> str:
        """The one line a one-shot command prints (after 'roadmap-bot: ')."""
        if self.kind == "busy":
            return (
                f"the database is busy ({self.detail}: another process held the write lock "
                f"on {where} longer than the busy timeout); try again in a moment"
            )
        return (
            f"the database is corrupt ({self.detail}: {where}); restore it from a backup, "
            "or point ROADMAP_DB at a new file"
        )


def database_problem(exc: BaseException) -> DatabaseProblem | None:
    """Busy or corrupt, if that is what ``exc`` (or anything it wraps) says; else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error) or "sqlite" in type(current).__module__.lower():
            text = str(current).lower()
            for kind, phrases in (("busy", _BUSY), ("corrupt", _CORRUPT)):
                for phrase in phrases:
                    if phrase in text:
                        return DatabaseProblem(kind, phrase)  # type: ignore[arg-type]
        wrapped = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError
        if isinstance(wrapped, BaseException) and id(wrapped) not in seen:
            current = wrapped
            continue
        current = current.__cause__ or current.__context__
    return None
