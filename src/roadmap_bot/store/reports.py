"""Persistence for report outlines: one row per report, replaced whole on every change.

The outline is stored as JSON next to the HTTP validators (ETag, Last-Modified) that let
the next request be conditional, and the times that decide when to ask again. The store
keeps the JSON as text; ``reports.service`` reads it into its model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select

from roadmap_bot.store import schema as t
from roadmap_bot.store.sql import SqlStore, insert


@dataclass(frozen=True, slots=True)
class ReportRow:
    slug: str
    url: str
    parser: int
    outline: str | None = None  # the outline as JSON; None: nothing usable (see ``problem``)
    problem: str | None = None  # why the source's answer gave no outline
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = None  # the last 200
    checked_at: datetime | None = None  # the source last answered (200 or 304)
    failed_at: datetime | None = None  # the last attempt that got no answer
    failure: str | None = None


class ReportCache:
    """Report outlines in the store's database."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    async def get(self, slug: str) -> ReportRow | None:
        r = t.report_outlines
        async with self.store.db.read() as conn:
            row = (await conn.execute(select(r).where(r.c.slug == slug))).first()
        return ReportRow(**row._asdict()) if row is not None else None

    async def put(self, row: ReportRow) -> None:
        values = asdict(row)
        stmt = insert(self.store.dialect, t.report_outlines).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.report_outlines.c.slug],
            set_={name: stmt.excluded[name] for name in values if name != "slug"},
        )
        async with self.store.write() as conn:
            await conn.execute(stmt)
