"""Report outlines for cards, the `report` command and digests: cache first, network bounded.

The policy, in one place:
- A cached outline is served as it is; the source is asked again (conditionally, with
  ETag / Last-Modified) at most once a day, in the background, while the stale copy is
  served (stale-while-revalidate). Readers wait for the network only when nothing is
  cached at all, and then only up to their own bound (a card: one second).
- When the source is down, the cache keeps being served and the source is not asked
  again for ten minutes (RETRY_AFTER); the log says so once per attempt.
- A malformed answer (error page, 404, redirect loop, too big, not UTF-8, missing
  sections) is cached as an empty outline with its reason: one warning in the log, no
  error for anyone, and no new warning until the source sends something else.
- One fetch per report at a time: concurrent readers share it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from roadmap_bot.clock import Clock
from roadmap_bot.learning.catalog import Project
from roadmap_bot.reports.outline import PARSER_VERSION, MalformedReport, Outline, parse_report
from roadmap_bot.store.reports import ReportCache, ReportRow

if TYPE_CHECKING:  # aiohttp costs 0.2 s to import: it loads with the first fetch
    import aiohttp

log = logging.getLogger(__name__)

REVALIDATE_EVERY = timedelta(days=1)
RETRY_AFTER = timedelta(minutes=10)  # after the source did not answer
NO_AGENDA_REPEAT = timedelta(minutes=10)  # a "no agenda" line repeats at most this often
CARD_WAIT = 1.0  # seconds a project card waits when nothing is cached
REPORT_WAIT = 3.0  # seconds 'report NAME' waits when nothing is cached


class Outcome(StrEnum):
    FETCHED = "fetched"  # a new or changed outline
    UNCHANGED = "unchanged"  # 304, or the same outline again
    FAILED = "failed"  # no answer, or an answer that is not a report


@dataclass(frozen=True, slots=True)
class Refreshed:
    slug: str
    outcome: Outcome
    reason: str | None = None  # for FAILED


@dataclass
class RefreshSummary:
    fetched: int = 0
    unchanged: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, result: Refreshed) -> None:
        setattr(self, result.outcome.value, getattr(self, result.outcome.value) + 1)
        if result.outcome is Outcome.FAILED:
            self.problems.append(f"{result.slug}: {result.reason}")

    def line(self) -> str:
        return f"fetched {self.fetched}, unchanged {self.unchanged}, failed {self.failed}"


@dataclass(frozen=True, slots=True)
class CachedReport:
    """A report's cached outline with the HTTP validators and times of its last fetch."""

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

    @classmethod
    def from_row(cls, row: ReportRow) -> CachedReport:
        outline: Outline | None = None
        if row.outline is not None:
            try:
                outline = Outline.model_validate_json(row.outline)
            except ValidationError:  # written by another version: fetch it again
                log.info("cached outline of %s is unreadable; it will be fetched again", row.slug)
                return cls(row.slug, row.url, -1)
        return cls(**{**_values(row), "outline": outline})

    def to_row(self) -> ReportRow:
        outline = self.outline.model_dump_json() if self.outline is not None else None
        return ReportRow(**{**_values(self), "outline": outline})


def _values(record: CachedReport | ReportRow) -> dict[str, Any]:
    # not dataclasses.asdict: that deep-copies the outline
    return {f.name: getattr(record, f.name) for f in fields(record)}


@dataclass(frozen=True, slots=True)
class ReportState:
    """What is known about a report right now, for a reply to show."""

    outline: Outline | None  # None: nothing usable yet
    checked_at: datetime | None = None  # when the source last answered
    problem: str | None = None  # why a source's answer gave no outline
    source_down: bool = False  # the last attempt got no answer: this may be out of date
    pending: bool = False  # a fetch is under way

    @property
    def decision_titles(self) -> tuple[str, ...]:
        return self.outline.decision_titles if self.outline else ()


class Reports:
    """Fetches, parses and caches report outlines; never raises to its callers' users."""

    def __init__(
        self,
        cache: ReportCache,
        clock: Clock,
        session: Callable[[], aiohttp.ClientSession],
        url_template: str,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        max_bytes: int | None = None,
        card_wait: float = CARD_WAIT,
        report_wait: float = REPORT_WAIT,
    ) -> None:
        self.cache = cache
        self.clock = clock
        self.session = session  # the process's shared session, opened on first use
        self.url_template = url_template
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.card_wait = card_wait
        self.report_wait = report_wait
        self._entries: dict[str, CachedReport] = {}  # a memory copy of the cache
        self._said_no_agenda: dict[str, tuple[str, datetime]] = {}  # slug: (why, when)
        self._inflight: dict[str, asyncio.Task[Refreshed]] = {}
        self._loading: dict[str, asyncio.Task[CachedReport | None]] = {}  # store reads

    def url(self, slug: str) -> str:
        return self.url_template.replace("{name}", slug)

    async def aclose(self) -> None:
        """Stop background fetches and reads (the session belongs to the caller)."""
        tasks = [*self._inflight.values(), *self._loading.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- reading -------------------------------------------------------------------------

    async def state(self, slug: str, *, wait: float) -> ReportState:
        """The cached outline, revalidated when due; waits up to ``wait`` s only if none."""
        entry = await self._entry(slug)
        if not self._due(entry):
            return self._state(entry)
        task = self._revalidate(slug)
        if entry is None or entry.outline is None:
            await asyncio.wait({task}, timeout=wait)  # never cancels the fetch
            entry = self._entries.get(slug, entry)
        return self._state(entry, pending=not task.done())

    async def decision_headings(self, project: Project) -> tuple[str, ...]:
        """For a project card: cached headings, or () after at most ``card_wait`` seconds."""
        try:
            return (await self.state(project.slug, wait=self.card_wait)).decision_titles
        except Exception:  # a card is never lost to a report
            log.exception("report outline of %s failed; card shown without it", project.slug)
            return ()

    async def agenda(self, slug: str, *, timeout: float) -> Outline | None:
        """The outline for a digest within ``timeout`` seconds, or None; never raises."""
        try:
            async with asyncio.timeout(timeout):
                state = await self.state(slug, wait=timeout)
        except TimeoutError:
            # The fetch starts only after the store read: when the read alone outlasts
            # the wait (a busy database in a fan-out), start it anyway, or no digest of
            # the fan-out ever gets this report. An entry known to be fresh, or one whose
            # source failed just now, is not asked for again.
            if self._due(self._entries.get(slug)):
                self._revalidate(slug)
            self._no_agenda(slug, f"the report did not arrive within {timeout:.1f} s")
            return None
        except Exception:
            log.exception("no agenda for %s: reading its outline failed", slug)
            return None
        if state.outline is None:
            why = (
                state.problem
                or (f"the report did not arrive within {timeout:.1f} s" if state.pending else None)
                or ("the source is not answering" if state.source_down else "no outline yet")
            )
            self._no_agenda(slug, why)
            return None
        return state.outline

    def _no_agenda(self, slug: str, why: str) -> None:
        # A fan-out asks once per channel: thousands of digests would repeat the same
        # line. Said once per report and reason, again after NO_AGENDA_REPEAT.
        now = self.clock.now()
        said = self._said_no_agenda.get(slug)
        if said is not None and said[0] == why and now - said[1] < NO_AGENDA_REPEAT:
            return
        self._said_no_agenda[slug] = (why, now)
        log.warning("no agenda for %s: %s", slug, why)

    # -- refreshing ----------------------------------------------------------------------

    async def refresh(self, slug: str) -> Refreshed:
        """Ask the source now (conditionally), whatever the cache's age."""
        return await asyncio.shield(self._revalidate(slug))

    async def refresh_all(
        self,
        slugs: Iterable[str],
        *,
        concurrency: int = 8,
        progress: Callable[[Refreshed, RefreshSummary], None] | None = None,
    ) -> RefreshSummary:
        """Refresh every report, ``concurrency`` at a time; ``progress`` after each one."""
        summary = RefreshSummary()
        slots = asyncio.Semaphore(max(1, concurrency))

        async def one(slug: str) -> None:
            async with slots:
                result = await self.refresh(slug)
            summary.add(result)
            if progress is not None:
                progress(result, summary)

        await asyncio.gather(*(one(s) for s in dict.fromkeys(slugs)))
        return summary

    # -- internals -----------------------------------------------------------------------

    async def _entry(self, slug: str) -> CachedReport | None:
        entry = self._entries.get(slug)
        if entry is None or self._due(entry):
            # another process (a 'reports refresh' cron job) may have refreshed it
            entry = await self._load(slug)
            current = self._entries.get(slug)
            if current is not None and not self._due(current):
                # a fetch of ours finished while we read the store: its answer is newer
                return current
            if entry is not None:
                self._entries[slug] = entry
        return entry

    def _due(self, entry: CachedReport | None) -> bool:
        """Whether to ask the source now."""
        if entry is None:
            return True
        now = self.clock.now()
        if entry.failed_at is not None and now - entry.failed_at < RETRY_AFTER:
            return False
        if entry.url != self.url(entry.slug) or entry.parser != PARSER_VERSION:
            return True
        return entry.checked_at is None or now - entry.checked_at >= REVALIDATE_EVERY

    def _state(self, entry: CachedReport | None, pending: bool = False) -> ReportState:
        if entry is None:
            return ReportState(None, pending=pending)
        return ReportState(
            entry.outline,
            checked_at=entry.checked_at,
            problem=entry.problem,
            source_down=entry.failed_at is not None,
            pending=pending,
        )

    def _revalidate(self, slug: str) -> asyncio.Task[Refreshed]:
        """The fetch of ``slug`` under way, or a new one."""
        task = self._inflight.get(slug)
        if task is None:
            task = asyncio.create_task(self._fetch(slug), name=f"report:{slug}")
            self._inflight[slug] = task
            task.add_done_callback(lambda _: self._inflight.pop(slug, None))
        return task

    async def _fetch(self, slug: str) -> Refreshed:
        try:
            return await self._fetch_and_store(slug)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a background task: nobody else would see it
            log.exception("refreshing the report of %s failed", slug)
            return Refreshed(slug, Outcome.FAILED, f"internal error: {exc}")

    async def _fetch_and_store(self, slug: str) -> Refreshed:
        from roadmap_bot.reports.fetch import BadReport, SourceDown, fetch_report

        url = self.url(slug)
        now = self.clock.now()
        old = await self._load(slug)
        usable = old is not None and old.url == url and old.parser == PARSER_VERSION
        base = old if old is not None and usable else CachedReport(slug, url, PARSER_VERSION)
        try:
            got = await fetch_report(
                self.session(),
                url,
                etag=base.etag,
                last_modified=base.last_modified,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
            )
        except SourceDown as exc:
            kept = "serving the cached outline" if (old or base).outline else "no outline cached"
            log.warning("report %s: the source did not answer (%s); %s", slug, exc, kept)
            # a row fetched from an older URL is still better than nothing: keep it
            await self._save(replace(old or base, failed_at=now, failure=str(exc)))
            return Refreshed(slug, Outcome.FAILED, str(exc))
        except BadReport as exc:
            return await self._unusable(CachedReport(slug, url, PARSER_VERSION), now, exc)
        if got.text is None:  # 304: what we have is current
            await self._save(
                replace(
                    base,
                    etag=got.etag,
                    last_modified=got.last_modified,
                    checked_at=now,
                    failed_at=None,
                    failure=None,
                )
            )
            return Refreshed(slug, Outcome.UNCHANGED)
        validators = CachedReport(
            slug, url, PARSER_VERSION, etag=got.etag, last_modified=got.last_modified
        )
        try:
            outline = parse_report(got.text)
        except MalformedReport as exc:
            # with its validators kept, a 304 next time keeps it empty without a new warning
            return await self._unusable(validators, now, exc)
        same = base.outline == outline
        fetched_at = base.fetched_at if same else now
        await self._save(
            replace(validators, outline=outline, fetched_at=fetched_at, checked_at=now)
        )
        return Refreshed(slug, Outcome.UNCHANGED if same else Outcome.FETCHED)

    async def _unusable(self, entry: CachedReport, now: datetime, exc: Exception) -> Refreshed:
        """The source answered with something that is not a report: an empty outline."""
        log.warning(
            "report %s at %s is unusable: %s; its outline is empty", entry.slug, entry.url, exc
        )
        await self._save(replace(entry, problem=str(exc), checked_at=now))
        return Refreshed(entry.slug, Outcome.FAILED, str(exc))

    async def _load(self, slug: str) -> CachedReport | None:
        """The stored entry; readers of one slug at the same moment share one read. A
        fan-out starts thousands of digests at once, each asking for a handful of the
        same reports: one read each queued on the connection pool behind the ledger's
        writes, and digests timed out waiting for their agenda."""
        loading = self._loading.get(slug)
        if loading is None:
            loading = asyncio.create_task(self._read(slug))
            self._loading[slug] = loading
            loading.add_done_callback(lambda _: self._loading.pop(slug, None))
        return await asyncio.shield(loading)  # one reader giving up leaves it to the others

    async def _read(self, slug: str) -> CachedReport | None:
        row = await self.cache.get(slug)
        return CachedReport.from_row(row) if row is not None else None

    async def _save(self, entry: CachedReport) -> None:
        await self.cache.put(entry.to_row())
        self._entries[entry.slug] = entry
