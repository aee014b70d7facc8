"""A database another process holds past the busy timeout, as the scheduler and the
operator see it: a warning and a retry, never a traceback."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest

from roadmap_bot.groups.scheduler import DigestScheduler
from roadmap_bot.store.database import StoreError
from roadmap_bot.store.problems import database_problem


class Failing:
    """A deliverer whose run fails the way a locked database makes it fail."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.runs = 0

    async def run_due(self) -> Any:
        self.runs += 1
        raise self.error


async def test_a_timed_run_on_a_busy_database_is_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliverer = Failing(sqlite3.OperationalError("database is locked"))
    scheduler = DigestScheduler(deliverer)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG)
    await scheduler._job()
    assert deliverer.runs == 1
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "digest run: the database is busy (database is locked); the next run tries again",
        )
    ]


async def test_other_failures_of_a_timed_run_still_raise() -> None:
    scheduler = DigestScheduler(Failing(RuntimeError("a bug")))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="a bug"):
        await scheduler._job()


def test_problems_are_found_through_wrappers() -> None:
    try:
        try:
            raise sqlite3.DatabaseError("file is not a database")
        except sqlite3.DatabaseError as exc:
            raise StoreError("cannot use database x.db: file is not a database") from exc
    except StoreError as wrapped:
        problem = database_problem(wrapped)
    assert problem is not None and (problem.kind, problem.detail) == (
        "corrupt",
        "file is not a database",
    )
    assert database_problem(RuntimeError("database is locked")) is None  # not a driver's
    busy = database_problem(sqlite3.OperationalError("database is locked"))
    assert busy is not None and busy.line("/data/roadmap-bot.db") == (
        "the database is busy (database is locked: another process held the write lock on "
        "/data/roadmap-bot.db longer than the busy timeout); try again in a moment"
    )


def test_a_database_server_that_cannot_take_the_connection_is_unreachable() -> None:
    import asyncpg
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    too_many = asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    wrapped = DBAPIError("SELECT 1", None, too_many)
    problem = database_problem(wrapped)
    assert problem is not None and (problem.kind, problem.detail) == (
        "unreachable",
        "too many connections",
    )
    assert problem.line("postgresql://bot:***@db/roadmap") == (
        "the database cannot be reached (too many connections: postgresql://bot:***@db/roadmap); "
        "check that it is running and accepting connections, then try again"
    )
    pool = database_problem(PoolTimeout("QueuePool limit of size 5 overflow 10 reached"))
    assert pool is not None and pool.detail == "no free connection in the pool"
    assert database_problem(ConnectionRefusedError(111, "Connect call failed")) is not None
    assert database_problem(RuntimeError("a bug")) is None
