"""The schema steps from before Alembic, numbered by SQLite's ``PRAGMA user_version``.

Frozen: kept only so ``migrate.py`` can adopt a file that predates release 0.1 (steps 1-3
make 0.1's schema, which Alembic's revision 0001 describes). Steps 4, 5 and 6 became the
revisions 0002, 0003 and 0004. New schema changes are Alembic revisions in ``store/migrations``.
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
    # 2: study groups: subscriptions, the delivery ledger, what each channel has covered
    [
        """CREATE TABLE subscriptions (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            channel      TEXT NOT NULL,          -- platform-qualified: slack:T1:C1
            target       TEXT NOT NULL,          -- 'path:<slug>' or 'level:<level>'
            weekday      INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),  -- 0 = Monday
            at_time      TEXT NOT NULL,          -- HH:MM, local to timezone
            timezone     TEXT NOT NULL,          -- IANA zone
            created_by   TEXT NOT NULL,
            created_at   TEXT NOT NULL,
            next_due_at  TEXT NOT NULL,          -- UTC: the first occurrence not yet handled
            paused_until TEXT,                   -- local date: no posts before it
            problem      TEXT,                   -- a permanent delivery error, until 'resume'
            ended_at     TEXT,
            ended_why    TEXT                    -- unsubscribed, replaced, completed
        )""",
        "CREATE UNIQUE INDEX one_subscription_per_channel ON subscriptions (channel) "
        "WHERE ended_at IS NULL",
        "CREATE INDEX subscriptions_due ON subscriptions (next_due_at) WHERE ended_at IS NULL",
        """CREATE TABLE deliveries (
            id              TEXT PRIMARY KEY,     -- '<subscription>-<week>': also the nonce seed
            subscription_id INTEGER NOT NULL REFERENCES subscriptions (id),
            channel         TEXT NOT NULL,
            week            TEXT NOT NULL,        -- local date of the occurrence
            due_at          TEXT NOT NULL,        -- UTC
            kind            TEXT NOT NULL CHECK (kind IN ('digest', 'completion')),
            project         TEXT,                 -- the pick; NULL for a completion post
            state           TEXT NOT NULL
                            CHECK (state IN ('claimed', 'sent', 'missed', 'paused', 'failed')),
            attempts        INTEGER NOT NULL DEFAULT 0,
            claimed_at      TEXT,
            claimed_by      TEXT,
            sent_at         TEXT,
            message_id      TEXT,
            error           TEXT,
            UNIQUE (subscription_id, week)
        )""",
        "CREATE INDEX deliveries_by_channel ON deliveries (channel, sent_at)",
        "CREATE INDEX deliveries_by_due ON deliveries (due_at, state)",
        """CREATE TABLE channel_covered (
            channel TEXT NOT NULL,
            project TEXT NOT NULL,
            how     TEXT NOT NULL CHECK (how IN ('posted', 'skipped')),
            at      TEXT NOT NULL,
            PRIMARY KEY (channel, project)
        ) WITHOUT ROWID""",
        """CREATE TABLE channel_members (
            channel TEXT NOT NULL,
            user_id TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (channel, user_id)
        ) WITHOUT ROWID""",
    ],
    # 3: architecture reports: each one's parsed outline, its HTTP validators and freshness
    [
        """CREATE TABLE report_outlines (
            slug          TEXT PRIMARY KEY,
            url           TEXT NOT NULL,        -- where it was fetched (ROADMAP_REPORT_URL)
            parser        INTEGER NOT NULL,     -- the parser version that read it
            outline       TEXT,                 -- JSON; NULL: no usable outline
            problem       TEXT,                 -- why outline is NULL (malformed, 404, ...)
            etag          TEXT,
            last_modified TEXT,
            fetched_at    TEXT,                 -- UTC: the last 200
            checked_at    TEXT,                 -- UTC: the source last answered (200 or 304)
            failed_at     TEXT,                 -- UTC: the last attempt that got no answer
            failure       TEXT
        ) WITHOUT ROWID""",
    ],
]

LATEST = len(MIGRATIONS)
