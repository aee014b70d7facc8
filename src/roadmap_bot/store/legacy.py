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
    # 4: the learning paths each person follows on purpose ('follow PATH')
    [
        """CREATE TABLE follows (
            user_id     TEXT NOT NULL,
            path        TEXT NOT NULL,          -- the path's slug
            followed_at TEXT NOT NULL,
            PRIMARY KEY (user_id, path)
        ) WITHOUT ROWID""",
    ],
    # 5: leases on deliveries: a claim is held until lease_until by claimed_by, and the
    # discussion thread is part of the delivery until it is posted
    [
        "ALTER TABLE deliveries ADD COLUMN lease_until TEXT",  # UTC; NULL: nobody holds it
        "ALTER TABLE deliveries ADD COLUMN discussion TEXT",  # 'pending': post out, thread not
        # claims left by an older version have no lease: the next worker may take them over
        "UPDATE deliveries SET lease_until = NULL WHERE state = 'claimed'",
        "CREATE INDEX deliveries_leases ON deliveries (lease_until) "
        "WHERE state = 'claimed' OR discussion = 'pending'",
    ],
    # 6: the group at a glance: when each mark was made (streaks need every change, not
    # only the latest), and the study-group page's link per channel (its token hashed)
    [
        """CREATE TABLE mark_events (
            user_id TEXT NOT NULL,
            project TEXT NOT NULL,
            status  TEXT NOT NULL CHECK (status IN ('done', 'reading', 'skipped', 'cleared')),
            at      TEXT NOT NULL                -- UTC
        )""",
        "CREATE INDEX mark_events_by_user ON mark_events (user_id, project, at)",
        # the marks made before this migration: their latest change is all we know
        "INSERT INTO mark_events (user_id, project, status, at) "
        "SELECT user_id, project, status, updated_at FROM progress",
        """CREATE TABLE dashboard_links (
            channel    TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,     -- sha256 of the token: the token is never stored
            salt       TEXT NOT NULL,            -- the token is derived from it; reset replaces it
            created_at TEXT NOT NULL
        ) WITHOUT ROWID""",
    ],
]

LATEST = len(MIGRATIONS)
