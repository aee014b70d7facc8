"""What went wrong with the database, in an operator's words.

A database error can surface anywhere (opening, a command's write, a delivery's claim)
and wrapped in other exceptions (aiosqlite, SQLAlchemy, our StoreError). Two kinds are
conditions of the file rather than bugs, and each has its own answer: *busy* (another
process held the write lock longer than the busy timeout: wait and try again) and
*corrupt* (the file is not a usable database: restore it from a backup). A database
server adds a third, *unreachable* (PostgreSQL is down, restarting, out of connections,
or the pool waited too long): also a condition to wait out, not a bug.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

Kind = Literal["busy", "corrupt", "unreachable"]

_BUSY = ("database is locked", "database is busy", "database table is locked")
_CORRUPT = (
    "file is not a database",
    "database disk image is malformed",
    "file is encrypted or is not a database",
    "malformed database schema",
)
# asyncpg's names for a server that cannot take (or lost) the connection; matched by name
# so this module does not import the driver.
_UNREACHABLE = {
    "CannotConnectNowError": "the server is starting or shutting down",
    "ConnectionDoesNotExistError": "the connection was lost",
    "ConnectionFailureError": "the connection failed",
    "TooManyConnectionsError": "too many connections",
    "AdminShutdownError": "the server was shut down",
    "CrashShutdownError": "the server crashed",
}


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
        if self.kind == "unreachable":
            return (
                f"the database cannot be reached ({self.detail}: {where}); check that it is "
                "running and accepting connections, then try again"
            )
        return (
            f"the database is corrupt ({self.detail}: {where}); restore it from a backup, "
            "or point ROADMAP_DB at a new file"
        )


def database_problem(exc: BaseException) -> DatabaseProblem | None:
    """Busy, corrupt or unreachable, if that is what ``exc`` (or anything it wraps) says;
    else None."""
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
        unreachable = _unreachable(current)
        if unreachable is not None:
            return DatabaseProblem("unreachable", unreachable)
        wrapped = getattr(current, "orig", None)  # SQLAlchemy's DBAPIError
        if isinstance(wrapped, BaseException) and id(wrapped) not in seen:
            current = wrapped
            continue
        current = current.__cause__ or current.__context__
    return None


def _unreachable(exc: BaseException) -> str | None:
    """What a lost or refused database connection says, in a few words; None otherwise."""
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith("asyncpg") and name in _UNREACHABLE:
        return _UNREACHABLE[name]
    if module.startswith("sqlalchemy") and name == "TimeoutError":  # the pool's own wait
        return "no free connection in the pool"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    return None
