"""Study-group commands: subscribe a channel to a weekly digest and manage it.

Registered on the core like any other feature. Who may change a channel's subscription
is the platform's call (``Profile.can_manage_channel``) plus one rule of ours: whoever
created a subscription may change it. Starting one in a channel that has none is open
to every member; anyone may read `schedule` and `digest`. Someone the platform rules out
(``Profile.outsider``: a member of another organization in a shared Slack channel, a
guest) changes nothing, whatever else holds, and is told why.

Discord is stricter: bot configuration there is, by the platform's convention, for
members with Manage Channels, so starting, changing and ending a subscription all need
it (the creator rule does not apply).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from roadmap_bot.chat.commands import (
    Pause,
    PreviewDigest,
    Resume,
    ShowSchedule,
    SkipPick,
    Subscribe,
    Unsubscribe,
    Usage,
    parse_channel_command,
)
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import Action, Fact, Item, Mark, Reply, ReplyKind, Style, error
from roadmap_bot.groups.delivery import Deliverer, next_posts
from roadmap_bot.groups.digest import plan, resolve_target, target_title, upcoming
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.store.digests import Delivery, DeliveryState, DigestStore, Subscription

DEFAULT_WEEKDAY = 0  # Monday
DEFAULT_TIME = time(9, 0)
MAX_PAUSE = timedelta(days=366)

WHO_MAY = {
    "slack": (
        "workspace admins and owners of the organization that installed the app, the person "
        "who set it up, and the bot's configured admins"
    ),
    "discord": "members with the Manage Channels permission",
}
# Platforms where every change, a first subscription included, is for channel managers.
MANAGERS_ONLY = frozenset({"discord"})


def when_text(instant: datetime, zone: str) -> str:
    """'Mon 30 Nov 2026, 09:00 CET (UTC+01:00)': local time with its offset, so DST shows."""
    local = instant.astimezone(Schedule(0, DEFAULT_TIME, zone).tz)
    offset = local.strftime("%z")
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local:%Z} (UTC{offset[:3]}:{offset[3:]})"


def _channel_usage(word: str, syntax: str, summary: str, example: str) -> Usage:
    return Usage(word, syntax, summary, example, parse_channel_command, group="Study groups")


SUBSCRIBE = _channel_usage(
    "subscribe",
    "subscribe PATH|LEVEL [on WEEKDAY] [at HH:MM] [tz ZONE]",
    "give this channel a weekly digest along a learning path or a level",
    "subscribe observability-stack on monday at 09:00 tz Europe/Berlin",
)
UNSUBSCRIBE = _channel_usage(
    "unsubscribe", "unsubscribe", "stop this channel's weekly digest", "unsubscribe"
)
SCHEDULE = _channel_usage(
    "schedule",
    "schedule",
    "this channel's digest: the next posts, where it stands, any problem",
    "schedule",
)
SKIP = _channel_usage(
    "skip", "skip", "skip the channel's upcoming pick (for yourself only: pass NAME)", "skip"
)
PAUSE = _channel_usage(
    "pause", "pause YYYY-MM-DD", "pause this channel's digest until a date", "pause 2027-01-04"
)
RESUME = _channel_usage("resume", "resume", "resume a paused digest", "resume")
DIGEST = _channel_usage(
    "digest", "digest", "preview this channel's next digest (only you see it)", "digest"
)


class StudyGroups:
    """The channel commands, wired onto a :class:`Roadmap`."""

    def __init__(
        self,
        roadmap: Roadmap,
        deliverer: Deliverer,
        default_zone: str = "UTC",
        on_change: Callable[[], Any] | None = None,
    ) -> None:
        self.roadmap = roadmap
        self.catalog = roadmap.catalog
        self.clock = roadmap.clock
        self.deliverer = deliverer
        self.digests: DigestStore = deliverer.digests
        self.default_zone = default_zone
        self.on_change = on_change  # e.g. the scheduler rebuilding its jobs
        for command, handler, usage in (
            (Subscribe, self._subscribe, SUBSCRIBE),
            (Unsubscribe, self._unsubscribe, UNSUBSCRIBE),
            (ShowSchedule, self._schedule, SCHEDULE),
            (SkipPick, self._skip, SKIP),
            (Pause, self._pause, PAUSE),
            (Resume, self._resume, RESUME),
            (PreviewDigest, self._preview, DIGEST),
        ):
            roadmap.register(command, handler, usage)
        roadmap.observers.append(self._note_member)

    async def _note_member(self, command: Any, who: Asker) -> None:
        if who.channel:
            await self.digests.remember_member(who.channel, who.id, self.clock.now())

    # -- guards ----------------------------------------------------------------------------

    def _channel_only(self, who: Asker, word: str) -> Reply | None:
        if who.channel:
            return None
        hint = (
            "On the console, name one: roadmap-bot console --channel study"
            if who.platform == "console"
            else "Use it in the channel that should get the digest."
        )
        return error(f"'{word}' works in a channel, not in a direct message.", hint)

    async def _refusal(self, who: Asker, sub: Subscription | None, word: str) -> Reply | None:
        """None when ``who`` may change this channel's subscription, else the refusal."""
        managers_only = who.platform in MANAGERS_ONLY
        profile = await who.profile()
        if profile.outsider:  # another organization's member, a guest: never, whatever else
            return error(
                f"You can't {word} this channel's digest.",
                f"{profile.outsider} Anyone may use 'schedule' and 'digest'.",
                ("schedule", "digest"),
            )
        if sub is not None and sub.created_by == who.id and not managers_only:
            return None
        if sub is None and not managers_only:
            return None  # a channel with no digest: any member may start one
        if profile.can_manage_channel:
            return None
        may = WHO_MAY.get(who.platform, "channel managers and the person who set it up")
        if managers_only:
            return error(
                f"You need the Manage Channels permission to {word} this channel's digest.",
                f"Weekly digests are changed by {may}; ask one of them. "
                "Anyone may use 'schedule' and 'digest'.",
                ("schedule", "digest"),
            )
        return error(
            f"You can't {word} this channel's digest.",
            f"Its subscription can be changed by {may}. Anyone may use 'schedule' and 'digest'.",
            ("schedule", "digest"),
        )

    async def _current(self, who: Asker, word: str) -> Subscription | Reply:
        refusal = self._channel_only(who, word)
        if refusal is not None:
            return refusal
        assert who.channel is not None
        sub = await self.digests.subscription(who.channel)
        if sub is None:
            return error(
                "This channel has no weekly digest.",
                "Subscribe it to a learning path or a level first.",
                ("subscribe observability-stack", "subscribe beginner", "paths"),
            )
        return sub

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- for other study-group features (the group view) ---------------------------------

    async def current(self, who: Asker, word: str) -> Subscription | Reply:
        """The asker's channel's subscription, or the answer saying why there is none."""
        return await self._current(who, word)

    async def refusal(self, who: Asker, sub: Subscription | None, word: str) -> Reply | None:
        """None when ``who`` may change this channel's subscription, else the refusal."""
        return await self._refusal(who, sub, word)

    def outcome(self, delivery: Delivery) -> str:
        """What became of a delivery, in words (as `schedule` says it)."""
        return self._outcome(delivery)

    # -- commands --------------------------------------------------------------------------

    async def _subscribe(self, command: Subscribe, who: Asker) -> Reply:
        refusal = self._channel_only(who, "subscribe")
        if refusal is not None:
            return refusal
        assert who.channel is not None
        target, guesses = resolve_target(self.catalog, command.target)
        if target is None:
            return error(
                f"'{command.target}' is neither a learning path nor a level.",
                "Subscribe to a path (see 'paths') or to beginner, intermediate or advanced.",
                tuple(f"subscribe {g}" for g in guesses) or ("paths",),
            )
        current = await self.digests.subscription(who.channel)
        refusal = await self._refusal(who, current, "replace" if current else "start")
        if refusal is not None:
            return refusal
        covered = await self.digests.covered(who.channel)
        title = target_title(self.catalog, target)
        _, first = upcoming(self.catalog, target, covered)
        if first is None:
            return error(
                f"This channel has already been through every step of {title}.",
                "Pick another path: 'paths' lists them all.",
                ("paths",),
            )
        zone = command.zone or (await who.profile()).timezone or self.default_zone
        schedule = Schedule(
            command.weekday if command.weekday is not None else DEFAULT_WEEKDAY,
            command.at or DEFAULT_TIME,
            zone,
        )
        now = self.clock.now()
        sub, replaced = await self.digests.subscribe(who.channel, target, schedule, who.id, now)
        self._changed()
        text = (
            f"First post: {when_text(sub.next_due_at, zone)}, with "
            f"{self.catalog.project(first).name}."
        )
        if replaced is not None:
            text += (
                f" This replaces the subscription to "
                f"{target_title(self.catalog, replaced.target)} ({replaced.schedule.describe()})."
            )
        return Reply(
            kind=ReplyKind.SUBSCRIPTION,
            title=f"This channel now gets {title} {schedule.describe()}.",
            text=text,
            actions=(
                Action(label="Preview the digest", command="digest", style=Style.PRIMARY),
                Action(label="Schedule", command="schedule"),
            ),
            command="schedule",
        )

    async def _unsubscribe(self, command: Unsubscribe, who: Asker) -> Reply:
        sub = await self._current(who, "unsubscribe")
        if isinstance(sub, Reply):
            return sub
        refusal = await self._refusal(who, sub, "stop")
        if refusal is not None:
            return refusal
        await self.digests.end(sub.id, "unsubscribed", self.clock.now())
        self._changed()
        title = target_title(self.catalog, sub.target)
        return Reply(
            kind=ReplyKind.SUBSCRIPTION,
            title="This channel no longer gets the weekly digest.",
            text=f"Its progress through {title} is kept: subscribe again to continue.",
            actions=(Action(label="Subscribe again", command=f"subscribe {sub.target_key}"),),
        )

    async def _schedule(self, command: ShowSchedule, who: Asker) -> Reply:
        sub = await self._current(who, "schedule")
        if isinstance(sub, Reply):
            return sub
        now = self.clock.now()
        zone = sub.schedule.zone
        covered = await self.digests.covered(sub.channel)
        steps = plan(self.catalog, sub.target)
        index, pick = upcoming(self.catalog, sub.target, covered)
        title = target_title(self.catalog, sub.target)
        if pick is None:
            position = f"all {len(steps)} steps covered: the next post is the completion post"
        else:
            position = f"step {index + 1} of {len(steps)} next: {self.catalog.project(pick).name}"
        facts = [
            Fact(label="Target", value=title),
            Fact(label="Cadence", value=sub.schedule.describe()),
            Fact(label="Position", value=position),
        ]
        if sub.paused_until:
            facts.append(Fact(label="Paused until", value=_day(sub.paused_until)))
        deliveries = await self.digests.deliveries(sub.channel, limit=5)
        last = next((d for d in deliveries if d.state is not DeliveryState.CLAIMED), None)
        if last is not None:
            facts.append(
                Fact(
                    label="Last delivery",
                    value=f"{when_text(last.due_at, zone)}: {self._outcome(last)}",
                )
            )
        problem = sub.problem or (last.error if last and last.error else None)
        if problem:
            fix = " 'resume' tries again once it is fixed." if sub.problem else ""
            facts.append(Fact(label="Delivery problem", value=problem + fix))
        start = max(now, sub.next_due_at - timedelta(microseconds=1))
        items = []
        for instant in next_posts(sub.schedule, start, 4):
            local_day = instant.astimezone(sub.schedule.tz).date()
            paused = sub.paused_until is not None and local_day < sub.paused_until
            items.append(
                Item(
                    title=when_text(instant, zone),
                    detail="paused" if paused else "",
                    mark=Mark.SKIPPED if paused else Mark.NONE,
                )
            )
        return Reply(
            kind=ReplyKind.SCHEDULE,
            title=f"Weekly digest: {title}",
            facts=tuple(facts),
            items=tuple(items),
            items_heading="Next posts (local time)",
            actions=(
                Action(label="Preview", command="digest", style=Style.PRIMARY),
                Action(label="Skip the next pick", command="skip"),
            ),
            command="schedule",
        )

    def _outcome(self, delivery: Delivery) -> str:
        what = (
            self.catalog.project(delivery.project).name
            if delivery.project and self.catalog.get(delivery.project)
            else "the completion post"
            if delivery.kind == "completion"
            else "the weekly digest"
        )
        return {
            DeliveryState.SENT: f"{what}, posted",
            DeliveryState.MISSED: f"missed ({delivery.error})"
            if delivery.error  # e.g. its worker stopped and it was found too late
            else "missed (the bot was offline for longer than the catch-up window)",
            DeliveryState.PAUSED: "skipped by the pause",
            DeliveryState.FAILED: f"{what}, not posted: {delivery.error}",
            DeliveryState.CLAIMED: f"{what}, being posted",
        }[delivery.state]

    async def _skip(self, command: SkipPick, who: Asker) -> Reply:
        sub = await self._current(who, "skip")
        if isinstance(sub, Reply):
            return sub
        refusal = await self._refusal(who, sub, "skip a week of")
        if refusal is not None:
            return refusal
        covered = await self.digests.covered(sub.channel)
        _, pick = upcoming(self.catalog, sub.target, covered)
        if pick is None:
            return error(
                "There is nothing left to skip.",
                "The next post is the completion post.",
                ("schedule",),
            )
        await self.digests.cover(sub.channel, pick, "skipped", self.clock.now())
        _, after = upcoming(self.catalog, sub.target, {**covered, pick: "skipped"})
        skipped = self.catalog.project(pick).name
        then = (
            f"The next digest ({when_text(sub.next_due_at, sub.schedule.zone)}) brings "
            f"{self.catalog.project(after).name}."
            if after
            else "That was the last step: the next post is the completion post."
        )
        return Reply(kind=ReplyKind.SUBSCRIPTION, title=f"Skipped {skipped}.", text=then)

    async def _pause(self, command: Pause, who: Asker) -> Reply:
        sub = await self._current(who, "pause")
        if isinstance(sub, Reply):
            return sub
        refusal = await self._refusal(who, sub, "pause")
        if refusal is not None:
            return refusal
        today = self.clock.now().astimezone(sub.schedule.tz).date()
        if command.until <= today:
            return error(
                f"{_day(command.until)} is not in the future.",
                "Give the date the digests should start again, e.g. pause "
                f"{(today + timedelta(days=14)).isoformat()}",
            )
        if command.until - today > MAX_PAUSE:
            return error(
                "That is more than a year away.",
                "For a longer break, 'unsubscribe' keeps the channel's progress too.",
                ("unsubscribe",),
            )
        await self.digests.set_pause(sub.id, command.until)
        self._changed()
        covered = await self.digests.covered(sub.channel)
        _, pick = upcoming(self.catalog, sub.target, covered)
        waits = f" The path waits at {self.catalog.project(pick).name}." if pick else ""
        return Reply(
            kind=ReplyKind.SUBSCRIPTION,
            title=f"Paused until {_day(command.until)}.",
            text=f"No digests before then; no week is lost.{waits}",
            actions=(Action(label="Resume now", command="resume"),),
        )

    async def _resume(self, command: Resume, who: Asker) -> Reply:
        sub = await self._current(who, "resume")
        if isinstance(sub, Reply):
            return sub
        refusal = await self._refusal(who, sub, "resume")
        if refusal is not None:
            return refusal
        if sub.paused_until is None and sub.problem is None:
            return Reply(
                kind=ReplyKind.SUBSCRIPTION,
                title="The digest is not paused.",
                text=f"It runs {sub.schedule.describe()}.",
                actions=(Action(label="Schedule", command="schedule"),),
            )
        await self.digests.set_pause(sub.id, None)
        await self.digests.set_problem(sub.id, None)
        self._changed()
        return Reply(
            kind=ReplyKind.SUBSCRIPTION,
            title="Resumed.",
            text=f"The digest runs {sub.schedule.describe()} again.",
            actions=(Action(label="Schedule", command="schedule"),),
        )

    async def _preview(self, command: PreviewDigest, who: Asker) -> Reply:
        sub = await self._current(who, "digest")
        if isinstance(sub, Reply):
            return sub
        digest = await self.deliverer.compose(sub)
        when = when_text(sub.next_due_at, sub.schedule.zone)
        return digest.message.model_copy(
            update={
                "public": False,
                "shareable": False,
                "footer": f"Preview of the post due {when}. {digest.message.footer}".strip(),
            }
        )

    # -- a whole workspace at once (the app was uninstalled, then installed again) -------

    async def pause_workspace(self, prefix: str, reason: str) -> int:
        """Pause every subscription in channels starting with ``prefix`` (``slack:T1:``),
        with ``reason`` shown by ``schedule``; returns how many."""
        paused = 0
        for sub in await self.digests.active():
            if sub.channel.startswith(prefix) and sub.problem != reason:
                await self.digests.set_problem(sub.id, reason)
                paused += 1
        if paused and self.on_change is not None:
            self.on_change()
        return paused

    async def resume_workspace(self, prefix: str, reason: str) -> int:
        """Undo :meth:`pause_workspace` for subscriptions still paused for that reason."""
        resumed = 0
        for sub in await self.digests.active():
            if sub.channel.startswith(prefix) and sub.problem == reason:
                await self.digests.set_problem(sub.id, None)
                resumed += 1
        if resumed and self.on_change is not None:
            self.on_change()
        return resumed


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"
