"""Versioned schema migrations, applied in order at start-up.

Each migration is a list of statements run in one BEGIN IMMEDIATE transaction together
with ``PRAGMA user_version``, so two processes starting on one database apply it once.
Never edit a released migration: add a new one.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: people, their marks, and small key/value settings
    [
        """CREATE TABLE users (
            id      TEXT PRIMARY KEY,           -- platform-qualified: console:alice, slack:T1:U1
            name    TEXT NOT NULL,
            seen_at TEXT NOT NULL
        )""",
        """CREATE TABLE progress (
            user_id    TEXT NOT NULL,
            project    TEXT NOT NULL,
            status     TEXT NOT NULL CHECK (status IN ('done', 'reading', 'skipped')),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, project)
        ) WITHOUT ROWID""",
        "CREATE INDEX progress_by_project ON progress (project, status)",
        """CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID""",
    ],
]

LATEST = len(MIGRATIONS)
