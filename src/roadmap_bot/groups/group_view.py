"""The group at a glance: `group`, `dashboard`, streaks in `progress`, and what the
weekly digest and the study-group page need to know about a group.

Registered on the core like the other features. What to show is decided here (and in
:mod:`standing` / :mod:`streaks`); adapters and the web page only draw it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from roadmap_bot.chat.commands import Dashboard, Invalid, Progress, ShowGroup, Usage
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import (
    Action,
    Fact,
    Item,
    Link,
    Mark,
    Reply,
    ReplyKind,
    Section,
    Style,
    Table,
    TableRow,
    cell_legend,
    error,
)
from roadmap_bot.groups.delivery import next_posts
from roadmap_bot.groups.news import GroupNews
from roadmap_bot.groups.page_links import PageLinks
from roadmap_bot.groups.standing import Standing, StepState, standing
from roadmap_bot.groups.streaks import Streak, posted_weeks, streaks, top_streaks
from roadmap_bot.groups.study_groups import StudyGroups, when_text
from roadmap_bot.store.digests import Delivery, DeliveryState, Subscription
from roadmap_bot.store.groups import GroupStore, LedgerWeek

MEMBERS_PER_PAGE = 10
CACHED_GROUPS = 1000  # standings kept between database changes


def _parse_group(head: str, words: list[str]) -> ShowGroup | Invalid:
    if not words:
        return ShowGroup()
    if len(words) == 2 and words[0].casefold() == "page" and words[1].isdigit() and int(words[1]):
        return ShowGroup(int(words[1]))
    return Invalid(
        error(
            f"I did not understand '{' '.join(words)}' after 'group'.",
            "'group' takes only a page number, for example: group page 2",
            ("group", "group page 2"),
        )
    )


def _parse_dashboard(head: str, words: list[str]) -> Dashboard | Invalid:
    if not words:
        return Dashboard()
    if [w.casefold() for w in words] == ["reset"]:
        return Dashboard(reset=True)
    return Invalid(
        error(
            f"'dashboard' takes only the word 'reset', not '{' '.join(words)}'.",
            "'dashboard' shows the study-group page's link; 'dashboard reset' replaces it.",
            ("dashboard", "dashboard reset"),
        )
    )


GROUP = Usage(
    "group",
    "group [page N]",
    "each member of this channel's study group against its steps: who is ahead or behind, "
    "weekly streaks",
    "group",
    _parse_group,
    group="Study groups",
)
DASHBOARD = Usage(
    "dashboard",
    "dashboard [reset]",
    "the study-group page's private link, to you only; 'dashboard reset' replaces it",
    "dashboard",
    _parse_dashboard,
    group="Study groups",
)

_STEP_MARK = {
    StepState.COVERED: Mark.DONE,
    StepState.SKIPPED: Mark.SKIPPED,
    StepState.THIS_WEEK: Mark.CURRENT,
    StepState.UPCOMING: Mark.NONE,
}


@dataclass(frozen=True)
class GroupPage:
    """Everything the study-group page shows."""

    sub: Subscription
    standing: Standing
    cadence: str
    zone: str
    next_posts: tuple[str, ...]  # local times, with their offsets
    deliveries: tuple[tuple[str, str], ...]  # (when, outcome), newest first
    paused_until: str | None


class GroupView:
    """`group`, `dashboard`, streaks in `progress`, and group facts for digests and pages."""

    def __init__(self, roadmap: Roadmap, study_groups: StudyGroups, links: PageLinks) -> None:
        self.roadmap = roadmap
        self.catalog = roadmap.catalog
        self.clock = roadmap.clock
        self.study_groups = study_groups
        self.digests = study_groups.digests
        self.groups = GroupStore(study_groups.digests.store)
        self.links = links
        self._subscriptions: dict[str, tuple[int, Subscription]] = {}  # channel -> ...
        self._standings: dict[int, tuple[int, Standing]] = {}  # subscription -> (version, it)
        self._replies: dict[tuple[int, int], tuple[Standing, Reply]] = {}  # (sub, page) -> ...
        roadmap.register(ShowGroup, self._group, GROUP)
        roadmap.register(Dashboard, self._dashboard, DASHBOARD)
        self._plain_progress = roadmap.handler(Progress)
        roadmap.register(Progress, self._progress)

    # -- gathering ---------------------------------------------------------------------------

    async def standing(self, sub: Subscription) -> Standing:
        """Where the group stands; kept until anything in the database changes (`group`
        asked twice in a row, or the page reloaded, costs one version check)."""
        version = self.digests.store.data_version()
        cached = self._standings.get(sub.id)
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        found = await self._standing(sub)
        if version is not None:
            if len(self._standings) >= CACHED_GROUPS:
                self._standings.clear()
            self._standings[sub.id] = (version, found)
        return found

    async def _standing(self, sub: Subscription) -> Standing:
        facts = (await self.digests.channel_facts([sub.channel]))[sub.channel]
        marks = await self.roadmap.store.progress_of(facts.members)
        names = await self.roadmap.store.user_names(facts.members)
        found = (await self.streaks_of([sub], {sub.channel: facts.members}))[sub.channel]
        return standing(self.catalog, sub.target, facts.covered, facts.posted, marks, names, found)

    async def streaks_of(
        self, subs: Sequence[Subscription], members: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, Streak]]:
        """channel -> member -> streak, for many subscriptions in two queries."""
        ledger = await self.groups.ledger_weeks([s.id for s in subs])
        return self._streaks(subs, members, ledger, await self._reads(subs, members, ledger))

    async def _reads(
        self,
        subs: Sequence[Subscription],
        members: Mapping[str, Sequence[str]],
        ledger: Mapping[int, Sequence[LedgerWeek]],
    ) -> dict[str, dict[str, datetime]]:
        everyone = list(dict.fromkeys(m for s in subs for m in members.get(s.channel, ())))
        projects = {w.project for s in subs for w in ledger[s.id] if w.project}
        return await self.groups.first_reads(everyone, projects)

    @staticmethod
    def _streaks(
        subs: Sequence[Subscription],
        members: Mapping[str, Sequence[str]],
        ledger: Mapping[int, Sequence[LedgerWeek]],
        reads: Mapping[str, Mapping[str, datetime]],
    ) -> dict[str, dict[str, Streak]]:
        return {
            s.channel: streaks(
                posted_weeks(ledger[s.id]), {m: reads[m] for m in members.get(s.channel, ())}
            )
            for s in subs
        }

    async def news(
        self, subs: Sequence[Subscription], members: Mapping[str, Sequence[str]]
    ) -> dict[str, GroupNews]:
        """For the weekly posts of these subscriptions: activity since the last post,
        the top streaks (by name: a recap never pings) and the page's address."""
        ledger = await self.groups.ledger_weeks([s.id for s in subs])
        found = self._streaks(subs, members, ledger, await self._reads(subs, members, ledger))
        everyone = list(dict.fromkeys(m for s in subs for m in members.get(s.channel, ())))
        names = await self.roadmap.store.user_names(everyone)
        urls = await self.links.urls([s.channel for s in subs])
        now = self.clock.now()
        # Each group's week starts at its last post: fetch everyone's finished reports
        # since the earliest of those in one query, then keep each group's own.
        since: dict[str, datetime] = {}
        for sub in subs:
            sent = [w for w in ledger[sub.id] if w.state == "sent" and w.due_at < now]
            if sent:
                since[sub.channel] = sent[-1].due_at
        events = (
            await self.groups.finished_between(everyone, min(since.values()), now) if since else []
        )
        out: dict[str, GroupNews] = {}
        for sub in subs:
            activity = ""
            start = since.get(sub.channel)
            if start is not None:
                group = set(members.get(sub.channel, ()))
                activity = self.activity_line(
                    [
                        (names.get(e.user, ""), e.user, e.project)
                        for e in events
                        if e.at > start and e.user in group
                    ]
                )
            top = top_streaks(found[sub.channel], names)
            line = (
                "Streaks: " + ", ".join(f"{name} {s.describe()}" for name, s in top) + "."
                if top
                else ""
            )
            out[sub.channel] = GroupNews(activity, line, urls.get(sub.channel))
        return out

    def activity_line(self, finished: Sequence[tuple[str, str, str]]) -> str:
        """'3 reports finished: ann read Loki, ben read Grafana and Loki.' from
        (name, user, project) in the order they were finished; names only, no pings."""
        by_member: dict[str, list[str]] = {}
        for name, user, slug in finished:
            project = self.catalog.get(slug)
            if project is None:
                continue
            who = name or user.rsplit(":", 1)[-1]
            titles = by_member.setdefault(who, [])
            if project.name not in titles:
                titles.append(project.name)
        total = sum(len(t) for t in by_member.values())
        if not total:
            return ""
        people = sorted(by_member.items(), key=lambda kv: kv[0].casefold())
        shown = [f"{who} read {_and(titles)}" for who, titles in people[:8]]
        if len(people) > 8:
            shown.append(f"{len(people) - 8} more")
        noun = "report" if total == 1 else "reports"
        return f"{total} {noun} finished: {', '.join(shown)}."

    async def page(self, channel: str) -> GroupPage | None:
        """The study-group page's content; None when the channel has no subscription."""
        sub = await self.digests.subscription(channel)
        if sub is None:
            return None
        now = self.clock.now()
        zone = sub.schedule.zone
        start = max(now, sub.next_due_at - timedelta(microseconds=1))
        deliveries = await self.digests.deliveries(channel, limit=6)
        return GroupPage(
            sub=sub,
            standing=await self.standing(sub),
            cadence=sub.schedule.describe(),
            zone=zone,
            next_posts=tuple(when_text(t, zone) for t in next_posts(sub.schedule, start, 4)),
            deliveries=tuple(
                (when_text(d.due_at, zone), self._outcome(d))
                for d in deliveries
                if d.state is not DeliveryState.CLAIMED
            )[:5],
            paused_until=sub.paused_until.isoformat() if sub.paused_until else None,
        )

    def _outcome(self, delivery: Delivery) -> str:
        return self.study_groups.outcome(delivery)

    # -- commands ----------------------------------------------------------------------------

    async def _subscription(self, who: Asker, word: str) -> Subscription | Reply:
        """The channel's subscription (or why there is none), kept while the database is
        unchanged: `group` is asked again and again while a group looks at itself."""
        version = self.digests.store.data_version()
        cached = self._subscriptions.get(who.channel or "")
        if version is not None and cached is not None and cached[0] == version:
            return cached[1]
        found = await self.study_groups.current(who, word)
        if version is not None and who.channel and isinstance(found, Subscription):
            if len(self._subscriptions) >= CACHED_GROUPS:
                self._subscriptions.clear()
            self._subscriptions[who.channel] = (version, found)
        return found

    async def _group(self, command: ShowGroup, who: Asker) -> Reply:
        sub = await self._subscription(who, "group")
        if isinstance(sub, Reply):
            return sub
        found = await self.standing(sub)
        key = (sub.id, command.page or 1)
        cached = self._replies.get(key)
        if cached is not None and cached[0] is found:
            return cached[1]  # the same standing object: the same answer
        reply = group_reply(found, command.page or 1)
        if len(self._replies) >= CACHED_GROUPS:
            self._replies.clear()
        self._replies[key] = (found, reply)
        return reply

    async def _dashboard(self, command: Dashboard, who: Asker) -> Reply:
        word = "dashboard reset" if command.reset else "dashboard"
        sub = await self.study_groups.current(who, word)
        if isinstance(sub, Reply):
            return sub
        if command.reset:
            refusal = await self.study_groups.refusal(who, sub, "reset the page link of")
            if refusal is not None:
                return refusal
        url = await self.links.url(sub.channel, reset=command.reset)
        title = (
            "The study-group page has a new link."
            if command.reset
            else "The study-group page of this channel"
        )
        text = ("The old link no longer works. " if command.reset else "") + (
            "Anyone with the link can see the group's steps, members, streaks and schedule "
            "(read-only). Share it with the group, not publicly; 'dashboard reset' replaces it."
        )
        return Reply(
            kind=ReplyKind.GROUP,
            title=title,
            text=text,
            links=(Link(label="Study-group page", url=url),),
            actions=(Action(label="Open the page", url=url, style=Style.PRIMARY),),
            public=False,
            shareable=False,
        )

    async def _progress(self, command: Progress, who: Asker) -> Reply:
        reply = await self._plain_progress(command, who)
        if reply.kind is not ReplyKind.PROGRESS or not reply.ok or not who.channel:
            return reply
        sub = await self.digests.subscription(who.channel)
        if sub is None:
            return reply
        user = who.id if command.user is None else who.resolve_user(command.user)
        if user is None:
            return reply
        found = (await self.streaks_of([sub], {sub.channel: [user]}))[sub.channel]
        streak = found.get(user, Streak())
        value = streak.describe()
        if streak.best > streak.weeks:
            value += f", best {streak.best}"
        return reply.model_copy(
            update={"facts": (*reply.facts, Fact(label="Weekly streak in this group", value=value))}
        )


def group_reply(found: Standing, page: int) -> Reply:
    """The `group` answer: steps, then a page of members against them."""
    steps = found.steps
    members = found.members
    pages = max(1, -(-len(members) // MEMBERS_PER_PAGE))
    page = min(max(page, 1), pages)
    shown = members[(page - 1) * MEMBERS_PER_PAGE : page * MEMBERS_PER_PAGE]
    current = found.current_step
    if current is not None:
        text = f"This week: step {current.number} of {len(steps)}, {current.name}."
    else:
        text = f"No post yet: the group starts with {steps[0].name}." if steps else ""
    behind = sum(1 for m in members if m.behind)
    ahead = sum(1 for m in members if m.ahead and not m.behind)
    facts = [
        Fact(label="Members", value=str(len(members))),
        Fact(label="Behind this week's step", value=str(behind)),
        Fact(label="Ahead of it", value=str(ahead)),
    ]
    step_items = tuple(
        Item(
            title=s.name,
            slug=s.slug,
            prefix=f"{s.number}.",
            mark=_STEP_MARK[s.state],
            detail=s.state.value,
        )
        for s in steps
    )
    table = None
    if shown:
        table = Table(
            columns=len(steps),
            highlight=current.number if current else None,
            rows=tuple(
                TableRow(
                    label=m.name,
                    cells=m.cells,
                    note=f"{m.pace} · streak {m.streak.describe()}",
                )
                for m in shown
            ),
            legend=cell_legend(),
        )
    actions = []
    if page > 1:
        actions.append(Action(label="◀ Previous", command=f"group page {page - 1}"))
    if page < pages:
        actions.append(Action(label="Next ▶", command=f"group page {page + 1}"))
    actions.append(Action(label="Study-group page", command="dashboard"))
    footer = "Members are everyone who used the bot in this channel or pressed a digest button."
    if pages > 1:
        footer = (
            f"Members {(page - 1) * MEMBERS_PER_PAGE + 1}–{(page - 1) * MEMBERS_PER_PAGE + len(shown)} of {len(members)} (page {page} of {pages}). "
            + footer
        )
    if not members:
        footer = "Nobody here has used the bot yet: press Done or Reading on a digest to show up. "
    return Reply(
        kind=ReplyKind.GROUP,
        title=f"Study group: {found.title}",
        text=text,
        facts=tuple(facts),
        sections=(Section(heading="Steps", items=step_items),),
        table=table,
        actions=tuple(actions),
        footer=footer.strip(),
        command="group",
        shareable=True,
    )


def _and(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


__all__ = ["GroupNews", "GroupPage", "GroupView", "group_reply"]
