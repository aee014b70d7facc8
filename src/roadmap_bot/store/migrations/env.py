"""Alembic's entry point for the store: migrations run on a connection the store hands in.

The store opens the connection and the transaction (``BEGIN IMMEDIATE`` on SQLite, an
advisory lock on PostgreSQL) so two processes starting together migrate once.
"""

from __future__ import annotations

from alembic import context

from roadmap_bot.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite rebuilds tables to alter
)
with context.begin_transaction():
    context.run_migrations()
