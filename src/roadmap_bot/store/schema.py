"""The store's one schema, as SQLAlchemy Core tables, for SQLite and PostgreSQL alike.

Alembic's migrations (``store/alembic/versions``) build exactly these tables; a test
compares the two on both engines. Instants are UTC: ISO-8601 text on SQLite (sortable,
and what versions before Alembic wrote), ``timestamptz`` on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlalchemy.types import TypeDecorator, TypeEngine

# PostgreSQL's dialect is imported where a PostgreSQL database is at hand, never here: a
# process on SQLite would pay ~20 ms of imports at every start for it.


def to_text(at: datetime) -> str:
    """An instant as SQLite stores it: ISO-8601 UTC with microseconds (fixed width)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Timestamp(TypeDecorator[datetime]):
    """An aware UTC instant: text on SQLite, ``timestamp with time zone`` on PostgreSQL."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import TIMESTAMP

            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return to_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return from_text(value)


class Day(TypeDecorator[date]):
    """A calendar date: 'YYYY-MM-DD' text on SQLite, ``date`` on PostgreSQL."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import DATE

            return dialect.type_descriptor(DATE())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: date | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> date | None:
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(value)


# -- partial indexes ----------------------------------------------------------------------
# Both engines build them alike (CREATE INDEX ... WHERE). SQLAlchemy checks a dialect's
# index options by importing that dialect, so declaring `postgresql_where` here would load
# PostgreSQL's on SQLite too; the PostgreSQL condition is added to an index when
# PostgreSQL's DDL compiler meets it (create_all). The migrations give both conditions
# themselves.
_WHERE = "roadmap_bot.where"  # the condition, in the index's info


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows where ``where`` holds, on SQLite and PostgreSQL alike."""
    return Index(name, *columns, unique=unique, sqlite_where=text(where), info={_WHERE: where})


@compiles(CreateIndex, "postgresql")
def _create_index_on_postgresql(create: CreateIndex, compiler: Any, **kw: Any) -> str:
    index = create.element
    where = index.info.get(_WHERE)
    if where is not None and index.dialect_options["postgresql"]["where"] is None:
        index.dialect_options["postgresql"]["where"] = text(where)
    return str(compiler.visit_create_index(create, **kw))


metadata = MetaData()

# -- people, their marks, small settings ---------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),  # platform-qualified: console:alice, slack:T1:U1
    Column("name", Text, nullable=False),
    Column("seen_at", Timestamp, nullable=False),
)

progress = Table(
    "progress",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("project", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("user_id", "project"),
    CheckConstraint("status IN ('done', 'reading', 'skipped')"),
    Index("progress_by_project", "project", "status"),
    sqlite_with_rowid=False,
)

mark_events = Table(  # every change of a mark: streaks and activity need its time
    "mark_events",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("project", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("at", Timestamp, nullable=False),
    CheckConstraint("status IN ('done', 'reading', 'skipped', 'cleared')"),
    Index("mark_events_by_user", "user_id", "project", "at"),
)

follows = Table(  # the learning paths each person follows on purpose ('follow PATH')
    "follows",
    metadata,
    Column("user_id", Text, nullable=False),
    Column("path", Text, nullable=False),  # the path's slug
    Column("followed_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("user_id", "path"),
    sqlite_with_rowid=False,
)

# who changed marks or follows, in commit order: the SQLite marks cache's feed (PostgreSQL
# tells the other replicas by NOTIFY instead, and leaves this table empty)
mark_versions = Table(
    "mark_versions",
    metadata,
    Column("user_id", Text, primary_key=True),
    # the number of the latest change to this person's marks or follows; one counter for all
    # people, so "who changed since N" is one range read (see store/sql.py, MarksCache)
    Column("version", Integer, nullable=False),
    Index("mark_versions_by_version", "version"),
    sqlite_with_rowid=False,
)

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

# -- study groups: subscriptions, the delivery ledger, what each channel covered ------------

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", Text, nullable=False),  # platform-qualified: slack:T1:C1
    Column("target", Text, nullable=False),  # 'path:<slug>' or 'level:<level>'
    Column("weekday", Integer, nullable=False),  # 0 = Monday
    Column("at_time", Text, nullable=False),  # HH:MM, local to timezone
    Column("timezone", Text, nullable=False),  # IANA zone
    Column("created_by", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("next_due_at", Timestamp, nullable=False),  # the first occurrence not yet handled
    Column("paused_until", Day),  # local date: no posts before it
    Column("problem", Text),  # a permanent delivery error, until 'resume'
    Column("ended_at", Timestamp),
    Column("ended_why", Text),  # unsubscribed, replaced, completed
    CheckConstraint("weekday BETWEEN 0 AND 6"),
    partial_index("one_subscription_per_channel", "channel", unique=True, where="ended_at IS NULL"),
    # due selection reads it in (next_due_at, id) order, a batch at a time
    partial_index("subscriptions_due", "next_due_at", "id", where="ended_at IS NULL"),
    sqlite_autoincrement=True,
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Text, primary_key=True),  # '<subscription>-<week>': also the nonce seed
    Column("subscription_id", Integer, ForeignKey("subscriptions.id"), nullable=False),
    Column("channel", Text, nullable=False),
    Column("week", Day, nullable=False),  # local date of the occurrence
    Column("due_at", Timestamp, nullable=False),
    Column("kind", Text, nullable=False),
    Column("project", Text),  # the pick; NULL for a completion post
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_at", Timestamp),
    Column("claimed_by", Text),
    Column("sent_at", Timestamp),
    Column("message_id", Text),
    Column("error", Text),
    # the lease: claimed_by holds the row until lease_until (NULL: nobody holds it)
    Column("lease_until", Timestamp),
    Column("discussion", Text),  # 'pending': the post is out, its thread reply not yet
    UniqueConstraint("subscription_id", "week"),
    CheckConstraint("kind IN ('digest', 'completion')"),
    CheckConstraint("state IN ('claimed', 'sent', 'missed', 'paused', 'failed')"),
    Index("deliveries_by_channel", "channel", "sent_at"),
    Index("deliveries_by_due", "due_at", "state"),
    partial_index(
        "deliveries_leases", "lease_until", where="state = 'claimed' OR discussion = 'pending'"
    ),
)

channel_covered = Table(
    "channel_covered",
    metadata,
    Column("channel", Text, nullable=False),
    Column("project", Text, nullable=False),
    Column("how", Text, nullable=False),
    Column("at", Timestamp, nullable=False),
    PrimaryKeyConstraint("channel", "project"),
    CheckConstraint("how IN ('posted', 'skipped')"),
    sqlite_with_rowid=False,
)

channel_members = Table(
    "channel_members",
    metadata,
    Column("channel", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("seen_at", Timestamp, nullable=False),
    PrimaryKeyConstraint("channel", "user_id"),
    sqlite_with_rowid=False,
)

dashboard_links = Table(  # the study-group page's link per channel
    "dashboard_links",
    metadata,
    Column("channel", Text, primary_key=True),
    Column("token_hash", Text, nullable=False, unique=True),  # sha256: the token is never stored
    Column("salt", Text, nullable=False),  # the token is derived from it; reset replaces it
    Column("created_at", Timestamp, nullable=False),
    sqlite_with_rowid=False,
)

# -- architecture reports: each one's parsed outline, HTTP validators and freshness ----------

report_outlines = Table(
    "report_outlines",
    metadata,
    Column("slug", Text, primary_key=True),
    Column("url", Text, nullable=False),  # where it was fetched (ROADMAP_REPORT_URL)
    Column("parser", Integer, nullable=False),  # the parser version that read it
    Column("outline", Text),  # JSON; NULL: no usable outline
    Column("problem", Text),  # why outline is NULL (malformed, 404, ...)
    Column("etag", Text),
    Column("last_modified", Text),
    Column("fetched_at", Timestamp),  # the last 200
    Column("checked_at", Timestamp),  # the source last answered (200 or 304)
    Column("failed_at", Timestamp),  # the last attempt that got no answer
    Column("failure", Text),
    sqlite_with_rowid=False,
)
