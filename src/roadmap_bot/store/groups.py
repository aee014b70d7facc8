"""Persistence for the group at a glance: when members marked what, and page links.

Streaks and the digest's activity line need every mark's time, not only the latest
status, so marks are also appended to ``mark_events`` (by :mod:`store.sql`). The
study-group page's link is derived from a per-channel salt; only the token's hash is
stored, so the table alone never reveals a working link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql.expression import Select

from roadmap_bot.store import schema as t
from roadmap_bot.store.sql import SqlStore, chunks, insert


@dataclass(frozen=True, slots=True)
class MarkEvent:
    user: str
    project: str
    status: str  # 'done', 'reading', 'skipped' or 'cleared'
    at: datetime


@dataclass(frozen=True, slots=True)
class LedgerWeek:
    """One (subscription, week) row of the delivery ledger, as streaks need it."""

    subscription_id: int
    week: date  # local date of the occurrence
    due_at: datetime
    state: str  # 'sent', 'missed', 'paused', 'failed', 'claimed'
    kind: str  # 'digest' or 'completion'
    project: str | None


@dataclass(frozen=True, slots=True)
class PageLink:
    channel: str
    salt: str
    token_hash: str
    created_at: datetime


_e = t.mark_events
_l = t.dashboard_links
_LINK = select(_l.c.channel, _l.c.salt, _l.c.token_hash, _l.c.created_at)


class GroupStore:
    """Mark history and page links in the same database as the rest of the store."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.db = store.db

    # -- mark history ----------------------------------------------------------------------

    async def first_reads(
        self, users: Iterable[str], projects: Iterable[str]
    ) -> dict[str, dict[str, datetime]]:
        """user -> project -> when they first marked it done or reading."""
        wanted = list(dict.fromkeys(users))
        slugs = list(dict.fromkeys(projects))
        found: dict[str, dict[str, datetime]] = {u: {} for u in wanted}
        if not slugs:
            return found
        first = func.min(_e.c.at).label("first")
        async with self.db.read() as conn:
            for chunk in chunks(wanted):
                rows = await conn.execute(
                    select(_e.c.user_id, _e.c.project, first)
                    .where(
                        _e.c.user_id.in_(chunk),
                        _e.c.project.in_(slugs),
                        _e.c.status.in_(("done", "reading")),
                    )
                    .group_by(_e.c.user_id, _e.c.project)
                )
                for user, project, at in rows:
                    # min() loses the column's type on SQLite: the text comes back as it is
                    found[user][project] = at if isinstance(at, datetime) else t.from_text(at)
        return found

    async def finished_between(
        self, users: Iterable[str], start: datetime, end: datetime
    ) -> list[MarkEvent]:
        """'done' marks made in (start, end], oldest first (the digest's activity line)."""
        wanted = list(dict.fromkeys(users))
        events: list[MarkEvent] = []
        async with self.db.read() as conn:
            for chunk in chunks(wanted):
                rows = await conn.execute(
                    select(_e.c.user_id, _e.c.project, _e.c.status, _e.c.at)
                    .where(
                        _e.c.user_id.in_(chunk),
                        _e.c.status == "done",
                        _e.c.at > start,
                        _e.c.at <= end,
                    )
                    .order_by(_e.c.at)
                )
                events.extend(MarkEvent(u, p, s, a) for u, p, s, a in rows)
        events.sort(key=lambda e: e.at)
        return events

    async def ledger_weeks(self, subscription_ids: Iterable[int]) -> dict[int, list[LedgerWeek]]:
        """Every ledger week of these subscriptions, oldest first."""
        wanted = [int(i) for i in dict.fromkeys(subscription_ids)]
        found: dict[int, list[LedgerWeek]] = {i: [] for i in wanted}
        d = t.deliveries
        async with self.db.read() as conn:
            for chunk in chunks(wanted):
                rows = await conn.execute(
                    select(d.c.subscription_id, d.c.week, d.c.due_at, d.c.state, d.c.kind)
                    .add_columns(d.c.project)
                    .where(d.c.subscription_id.in_(chunk))
                    .order_by(d.c.due_at)
                )
                for sid, week, due, state, kind, project in rows:
                    found[sid].append(LedgerWeek(sid, week, due, state, kind, project))
        return found

    # -- the study-group page's link -------------------------------------------------------

    async def _links(self, query: Select[Any]) -> list[PageLink]:
        async with self.db.read() as conn:
            return [PageLink(*row) for row in await conn.execute(query)]

    async def page_link(self, channel: str) -> PageLink | None:
        found = await self._links(_LINK.where(_l.c.channel == channel))
        return found[0] if found else None

    async def page_links(self, channels: Sequence[str]) -> dict[str, PageLink]:
        found: dict[str, PageLink] = {}
        for chunk in chunks(list(dict.fromkeys(channels))):
            for link in await self._links(_LINK.where(_l.c.channel.in_(chunk))):
                found[link.channel] = link
        return found

    async def link_secret(self, fresh: str) -> str:
        """The key page links are derived with: the stored one, or ``fresh`` stored now
        (the first of two processes starting at once wins, and both use its key)."""
        async with self.store.write() as conn:
            await conn.execute(
                insert(self.db.dialect, t.meta)
                .values(key="web.link_secret", value=fresh)
                .on_conflict_do_nothing()
            )
            value = await conn.scalar(
                select(t.meta.c.value).where(t.meta.c.key == "web.link_secret")
            )
        return str(value)

    async def add_links(self, links: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """(channel, salt, token_hash) for channels without a link yet, in one transaction."""
        if not links:
            return
        async with self.store.write() as conn:
            await conn.execute(
                insert(self.db.dialect, _l).on_conflict_do_nothing(index_elements=[_l.c.channel]),
                [
                    {"channel": c, "salt": salt, "token_hash": h, "created_at": now}
                    for c, salt, h in links
                ],
            )

    async def channel_of(self, token_hash: str) -> str | None:
        async with self.db.read() as conn:
            found = await conn.scalar(select(_l.c.channel).where(_l.c.token_hash == token_hash))
        return str(found) if found is not None else None

    async def save_link(
        self, channel: str, salt: str, token_hash: str, now: datetime, *, replace: bool
    ) -> PageLink:
        """Store a channel's link; without ``replace`` an existing one wins (two askers at
        once both get the same link). Returns the link in force."""
        stmt = insert(self.db.dialect, _l).values(
            channel=channel, salt=salt, token_hash=token_hash, created_at=now
        )
        if replace:
            stmt = stmt.on_conflict_do_update(
                index_elements=[_l.c.channel],
                set_={
                    "salt": stmt.excluded.salt,
                    "token_hash": stmt.excluded.token_hash,
                    "created_at": stmt.excluded.created_at,
                },
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=[_l.c.channel])
        async with self.store.write() as conn:
            await conn.execute(stmt)
            row = (await conn.execute(_LINK.where(_l.c.channel == channel))).one()
        return PageLink(*row)
