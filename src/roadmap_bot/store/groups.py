"""Persistence for the group at a glance: when members marked what, and page links.

Streaks and the digest's activity line need every mark's time, not only the latest
status, so marks are also appended to ``mark_events`` (by :mod:`store.sqlite`). The
study-group page's link is derived from a per-channel salt; only the token's hash is
stored, so the table alone never reveals a working link.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from roadmap_bot.store.sqlite import SqliteStore, from_text, to_text

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit


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


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class GroupStore:
    """Mark history and page links over the same SQLite connection as the rest."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

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
        slug_marks = ",".join("?" * len(slugs))
        for chunk in _chunks(wanted):
            rows = await self.store.conn.execute_fetchall(
                "SELECT user_id, project, min(at) FROM mark_events "
                f"WHERE user_id IN ({','.join('?' * len(chunk))}) AND project IN ({slug_marks}) "
                "AND status IN ('done', 'reading') GROUP BY user_id, project",
                [*chunk, *slugs],
            )
            for user, project, at in rows:
                found[str(user)][str(project)] = from_text(str(at))
        return found

    async def finished_between(
        self, users: Iterable[str], start: datetime, end: datetime
    ) -> list[MarkEvent]:
        """'done' marks made in (start, end], oldest first (the digest's activity line)."""
        wanted = list(dict.fromkeys(users))
        events: list[MarkEvent] = []
        for chunk in _chunks(wanted):
            rows = await self.store.conn.execute_fetchall(
                "SELECT user_id, project, status, at FROM mark_events "
                f"WHERE user_id IN ({','.join('?' * len(chunk))}) AND status = 'done' "
                "AND at > ? AND at <= ? ORDER BY at",
                [*chunk, to_text(start), to_text(end)],
            )
            events.extend(
                MarkEvent(str(u), str(p), str(s), from_text(str(a))) for u, p, s, a in rows
            )
        events.sort(key=lambda e: e.at)
        return events

    async def ledger_weeks(self, subscription_ids: Iterable[int]) -> dict[int, list[LedgerWeek]]:
        """Every ledger week of these subscriptions, oldest first."""
        wanted = [str(i) for i in dict.fromkeys(subscription_ids)]
        found: dict[int, list[LedgerWeek]] = {int(i): [] for i in wanted}
        for chunk in _chunks(wanted):
            rows = await self.store.conn.execute_fetchall(
                "SELECT subscription_id, week, due_at, state, kind, project FROM deliveries "
                f"WHERE subscription_id IN ({','.join('?' * len(chunk))}) ORDER BY due_at",
                [int(i) for i in chunk],
            )
            for sid, week, due, state, kind, project in rows:
                found[int(sid)].append(
                    LedgerWeek(
                        int(sid),
                        date.fromisoformat(str(week)),
                        from_text(str(due)),
                        str(state),
                        str(kind),
                        str(project) if project else None,
                    )
                )
        return found

    # -- the study-group page's link -------------------------------------------------------

    async def page_link(self, channel: str) -> PageLink | None:
        rows = await self.store.conn.execute_fetchall(
            "SELECT channel, salt, token_hash, created_at FROM dashboard_links WHERE channel = ?",
            (channel,),
        )
        return _link(tuple(next(iter(rows)))) if rows else None

    async def page_links(self, channels: Sequence[str]) -> dict[str, PageLink]:
        found: dict[str, PageLink] = {}
        for chunk in _chunks(list(dict.fromkeys(channels))):
            rows = await self.store.conn.execute_fetchall(
                "SELECT channel, salt, token_hash, created_at FROM dashboard_links "
                f"WHERE channel IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for row in rows:
                link = _link(tuple(row))
                found[link.channel] = link
        return found

    async def link_secret(self, fresh: str) -> str:
        """The key page links are derived with: the stored one, or ``fresh`` stored now
        (the first of two processes starting at once wins, and both use its key)."""
        async with self.store.write() as conn:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('web.link_secret', ?) "
                "ON CONFLICT (key) DO NOTHING",
                (fresh,),
            )
            rows = await conn.execute_fetchall(
                "SELECT value FROM meta WHERE key = 'web.link_secret'"
            )
        return str(next(iter(rows))[0])

    async def add_links(self, links: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """(channel, salt, token_hash) for channels without a link yet, in one transaction."""
        if not links:
            return
        async with self.store.write() as conn:
            await conn.executemany(
                "INSERT INTO dashboard_links (channel, salt, token_hash, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO NOTHING",
                [(c, salt, h, to_text(now)) for c, salt, h in links],
            )

    async def channel_of(self, token_hash: str) -> str | None:
        rows = await self.store.conn.execute_fetchall(
            "SELECT channel FROM dashboard_links WHERE token_hash = ?", (token_hash,)
        )
        return str(next(iter(rows))[0]) if rows else None

    async def save_link(
        self, channel: str, salt: str, token_hash: str, now: datetime, *, replace: bool
    ) -> PageLink:
        """Store a channel's link; without ``replace`` an existing one wins (two askers at
        once both get the same link). Returns the link in force."""
        async with self.store.write() as conn:
            if replace:
                await conn.execute(
                    "INSERT INTO dashboard_links (channel, salt, token_hash, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO UPDATE SET salt = excluded.salt, "
                    "token_hash = excluded.token_hash, created_at = excluded.created_at",
                    (channel, salt, token_hash, to_text(now)),
                )
            else:
                await conn.execute(
                    "INSERT INTO dashboard_links (channel, salt, token_hash, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (channel) DO NOTHING",
                    (channel, salt, token_hash, to_text(now)),
                )
            rows = await conn.execute_fetchall(
                "SELECT channel, salt, token_hash, created_at FROM dashboard_links "
                "WHERE channel = ?",
                (channel,),
            )
        return _link(tuple(next(iter(rows))))


def _link(row: tuple[object, ...]) -> PageLink:
    channel, salt, token_hash, created = row
    return PageLink(str(channel), str(salt), str(token_hash), from_text(str(created)))
