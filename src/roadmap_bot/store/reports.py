"""Persistence for report outlines: one row per report, replaced whole on every change.

The outline is stored as JSON next to the HTTP validators (ETag, Last-Modified) that let
the next request be conditional, and the times that decide when to ask again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from roadmap_bot.reports.outline import Outline
from roadmap_bot.store.sqlite import SqliteStore, from_text, to_text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedReport:
    slug: str
    url: str
    parser: int
    outline: Outline | None = None  # None: nothing usable (see ``problem``)
    problem: str | None = None  # why the source's answer gave no outline
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = None  # the last 200
    checked_at: datetime | None = None  # the source last answered (200 or 304)
    failed_at: datetime | None = None  # the last attempt that got no answer
    failure: str | None = None


_COLUMNS = (
    "slug, url, parser, outline, problem, etag, last_modified, "
    "fetched_at, checked_at, failed_at, failure"
)


class ReportCache:
    """Report outlines in the store's SQLite database."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def get(self, slug: str) -> CachedReport | None:
        rows = await self.store.conn.execute_fetchall(
            f"SELECT {_COLUMNS} FROM report_outlines WHERE slug = ?", (slug,)
        )
        for row in rows:
            return _entry(tuple(row))
        return None

    async def put(self, entry: CachedReport) -> None:
        outline = entry.outline.model_dump_json() if entry.outline is not None else None
        async with self.store.write() as conn:
            await conn.execute(
                f"INSERT OR REPLACE INTO report_outlines ({_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.slug,
                    entry.url,
                    entry.parser,
                    outline,
                    entry.problem,
                    entry.etag,
                    entry.last_modified,
                    _text(entry.fetched_at),
                    _text(entry.checked_at),
                    _text(entry.failed_at),
                    entry.failure,
                ),
            )


def _entry(row: tuple[object, ...]) -> CachedReport:
    slug, url, parser, outline, problem, etag, modified, fetched, checked, failed, failure = row
    parsed: Outline | None = None
    if isinstance(outline, str):
        try:
            parsed = Outline.model_validate_json(outline)
        except ValidationError:  # written by another version: fetch it again
            log.info("cached outline of %s is unreadable; it will be fetched again", slug)
            return CachedReport(str(slug), str(url), -1)
    return CachedReport(
        slug=str(slug),
        url=str(url),
        parser=int(str(parser)),
        outline=parsed,
        problem=_opt(problem),
        etag=_opt(etag),
        last_modified=_opt(modified),
        fetched_at=_when(fetched),
        checked_at=_when(checked),
        failed_at=_when(failed),
        failure=_opt(failure),
    )


def _text(at: datetime | None) -> str | None:
    return to_text(at) if at is not None else None


def _opt(value: object) -> str | None:
    return str(value) if value is not None else None


def _when(value: object) -> datetime | None:
    return from_text(str(value)) if value is not None else None
