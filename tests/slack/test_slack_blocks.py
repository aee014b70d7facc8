"""Block Kit rendering: every reply the bot can give is a message Slack accepts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import pytest

from fakes.slack_driver import assert_valid
from fakes.slack_requests import button_labeled, buttons, visible_text
from roadmap_bot.adapters.slack.blocks import (
    HEADER_TEXT,
    MESSAGE_BLOCKS,
    VIEW_BLOCKS,
    render_message,
)
from roadmap_bot.adapters.slack.escape import escape, fit, link, trim
from roadmap_bot.adapters.slack.home import home_view
from roadmap_bot.chat.cards import help_reply
from roadmap_bot.chat.commands import CORE_LANGUAGE, CORE_USAGES, Language, Usage
from roadmap_bot.chat.core import Asker, Profile, Roadmap
from roadmap_bot.chat.render_text import pages_by_grammar
from roadmap_bot.chat.replies import (
    Action,
    Fact,
    Item,
    Link,
    Meter,
    Reply,
    ReplyKind,
    Section,
    Style,
)
from roadmap_bot.clock import FixedClock
from roadmap_bot.groups.digest import Digest
from roadmap_bot.groups.study_groups import StudyGroups
from roadmap_bot.learning.catalog import Catalog, Level
from roadmap_bot.store import Status
from roadmap_bot.store.sql import SqlStore


async def _admin() -> Profile:
    return Profile(timezone="Europe/Berlin", can_manage_channel=True)


ALICE = Asker(id="slack:T1:U1", name="alice", channel="slack:T1:C1", profile=_admin)


def language(catalog: Catalog, roadmap: Roadmap) -> list[str]:
    """Every command of the /roadmap language, good and bad, with every project and path."""
    commands = ["", "help", "?", "help nonsense", "nonsense words", "begginer", "random expert"]
    commands += [f"help {u.word}" for u in roadmap.language.usages]
    for level in ("beginner", "intermediate", "advanced"):
        commands += [level, *(f"{level} page {n}" for n in range(1, 6)), f"{level} page x"]
        commands.append(f"random {level}")
    commands += [f"project {p.slug}" for p in catalog.projects]
    commands += [p.name for p in catalog.projects[:10]]
    commands += ["paths", "path", "path nowhere", *(f"path {p.slug}" for p in catalog.paths)]
    commands += [
        "search raft",
        "search event loop",
        "search go page 2",
        "search database page 9",
        "search zzzz",
        "search kafak",
        "search",
        "next",
        "next please",
        "random",
        "done redis",
        "done redis",
        "reading kafka",
        "pass etcd",
        "undo etcd",
        "undo nothing-like-this",
        "done",
        "progress",
        "progress <@U2|bob>",
        "progress two people",
        "report redis",
        "report kafka",
        "report nowhere",
        "report",
        # study groups, in a channel
        "schedule",
        "subscribe observability-stack on friday at 17:30 tz America/New_York",
        "subscribe nowhere",
        "schedule",
        "skip",
        "pause 2031-01-01",
        "pause yesterday",
        "resume",
        "digest",
        "group",
        "group page 2",
        "dashboard",
        "dashboard reset",
        "dashboard please",
        "subscribe beginner",
        "group",
        "unsubscribe",
        "group",
        "unsubscribe",
    ]
    return commands


async def test_every_command_renders_within_slacks_limits(
    with_reports: Roadmap,
    groups: StudyGroups,
    catalog: Catalog,
    store: SqlStore,
    clock: FixedClock,
) -> None:
    roadmap = with_reports
    for slug in ("fzf", "ripgrep", "jq", "redis"):
        await store.set_mark(ALICE.id, slug, Status.DONE, clock.now())
    await store.set_mark(ALICE.id, "kafka", Status.READING, clock.now())
    commands = language(catalog, roadmap)
    kinds = set()
    for command in commands:
        reply = await roadmap.ask(command, ALICE)
        kinds.add(reply.kind)
        for variant in (reply, reply.model_copy(update={"public": True})):
            message = render_message(variant)
            try:
                assert_valid(message)
            except AssertionError as problem:
                raise AssertionError(f"/roadmap {command}: {problem}") from None
    assert len(commands) > 180
    assert kinds >= set(ReplyKind) - {ReplyKind.NOTICE, ReplyKind.DIGEST}
    card = render_message(await roadmap.ask("project redis", ALICE))
    assert "Design decisions to look for" in visible_text(card)  # from the (served) report


class KeepingPoster:
    """A Slack poster that keeps what the deliverer sends (the digest's shape is what we test)."""

    platform = "slack"
    min_interval = 0.0

    def __init__(self) -> None:
        self.messages: list[Reply] = []

    async def post(self, channel: str, message: Reply, delivery_id: str) -> str:
        self.messages.append(message)
        return f"m{len(self.messages)}"

    async def post_discussion(
        self, channel: str, message_id: str, digest: Digest, delivery_id: str
    ) -> None:
        assert digest.discussion is not None
        self.messages.append(digest.discussion)

    async def find_post(self, channel: str, delivery_id: str, since: datetime) -> str | None:
        return None


async def test_weekly_digests_render_as_public_messages(
    roadmap: Roadmap, groups: StudyGroups, store: SqlStore, clock: FixedClock
) -> None:
    poster = KeepingPoster()
    groups.deliverer.posters["slack"] = poster
    await roadmap.ask("subscribe data-infrastructure", ALICE)
    for week in range(7):  # five steps, then the completion post
        clock.advance(timedelta(days=7))
        await groups.deliverer.run_due()
        if week == 0:
            await store.set_mark(ALICE.id, "redis", Status.DONE, clock.now())
    titles = [m.title for m in poster.messages]
    assert titles[:2] == ["Project of the week: Redis", "Discussion: Redis"]
    assert titles[-1] == "Data Infrastructure: complete!"
    for reply in poster.messages:
        message = render_message(reply)
        assert_valid(message)
        assert "Share to channel" not in visible_text(message)
    recap = render_message(poster.messages[2])
    assert "alice has marked it done." in visible_text(recap)


async def test_home_views_fit_in_a_view(
    roadmap: Roadmap, store: SqlStore, clock: FixedClock
) -> None:
    for slug in ("fzf", "redis", "etcd", "kafka", "caddy", "traefik"):
        await store.set_mark(ALICE.id, slug, Status.DONE, clock.now())
    progress = await roadmap.ask("progress", ALICE)
    pick = await roadmap.ask("next", ALICE)
    for answer in (None, await roadmap.ask("advanced page 2", ALICE), huge_reply()):
        view = home_view(progress, pick, answer)
        assert view["type"] == "home"
        assert_valid({"text": "home", **view}, max_blocks=VIEW_BLOCKS)
        assert "Share to channel" not in visible_text(view)


async def test_level_lists_page_ten_at_a_time(roadmap: Roadmap, catalog: Catalog) -> None:
    first = render_message(await roadmap.ask("advanced", ALICE))
    rows = [b for b in first["blocks"] if b.get("accessory")]
    opens = [f"project {p.slug}" for p in catalog.level(Level.ADVANCED)[:10]]
    assert [r["accessory"]["value"] for r in rows] == opens
    assert "Page 1 of 4 · 1–10 of 38" in visible_text(first)
    assert button_labeled(first, "Next ▶")["value"] == "advanced page 2"
    assert "◀ Previous" not in visible_text(first)
    last = render_message(await roadmap.ask("advanced page 9", ALICE))  # past the end: the last
    assert "Page 4 of 4 · 31–38 of 38" in visible_text(last)
    assert "Next ▶" not in visible_text(last)
    assert button_labeled(last, "Share to channel")["value"] == "advanced page 4"


def test_help_is_shown_whole_with_no_page_buttons() -> None:
    # 'help page 2' is no command: a list whose command takes no page is not paged.
    reply = help_reply(CORE_LANGUAGE)
    message = render_message(reply)
    assert_valid(message)
    for item in reply.items:
        assert escape(item.title) in visible_text(message)
    assert not any("page" in str(b.get("value", "")) for b in buttons(message))


def test_a_list_without_a_command_shows_its_first_page_and_says_so() -> None:
    reply = Reply(
        kind=ReplyKind.NOTICE,
        title="Many things",
        items=tuple(Item(title=f"thing {i}") for i in range(25)),
    )
    message = render_message(reply)
    assert_valid(message)
    assert "1–10 of 25" in visible_text(message)
    assert "thing 9" in visible_text(message) and "thing 10" not in visible_text(message)
    assert buttons(message) == []


def huge_reply() -> Reply:
    """Everything too long at once: no field of it fits Slack as it is."""
    long = "word & <!channel> " * 400
    return Reply(
        kind=ReplyKind.PROJECT,
        title="A" * 400 + " <@U123>",
        text=long,
        facts=tuple(Fact(label=f"fact {i} " * 30, value=long) for i in range(25)),
        sections=tuple(
            Section(
                heading=f"section {s}",
                text=long,
                items=tuple(
                    Item(title=f"item {i}", detail=long[:300], url="https://x.test/a|b>c")
                    for i in range(40)
                ),
                meters=tuple(Meter(label=f"m{i}", done=i, total=40) for i in range(40)),
                links=tuple(Link(label=f"link {i}", url=f"https://x.test/{i}") for i in range(30)),
            )
            for s in range(30)
        ),
        items=tuple(Item(title=f"row {i} " * 50, slug=f"row-{i}", detail=long) for i in range(300)),
        links=tuple(Link(label=f"l{i}" * 40, url="https://x.test/" + "p" * 200) for i in range(60)),
        actions=(
            *(
                Action(label="press " * 40, command=f"project p{i}", style=Style.DANGER)
                for i in range(30)
            ),
            Action(label="too long", command="x" * 3000),
            Action(label="url", url="https://x.test/" + "u" * 4000),
        ),
        suggestions=tuple(f"search {'y' * (i * 50)}" for i in range(1, 10)),
        footer=long,
        command="search huge",  # a command that takes 'page N': its list pages
        shareable=True,
    )


def test_nothing_ever_exceeds_slacks_limits() -> None:
    message = render_message(huge_reply())
    assert_valid(message)
    blocks = message["blocks"]
    assert len(blocks) == MESSAGE_BLOCKS
    assert len(blocks[0]["text"]["text"]) == HEADER_TEXT
    assert blocks[0]["text"]["text"].endswith("…")
    values = [b.get("value", "") for b in buttons(message)]
    assert "x" * 3000 not in values  # a command that cannot fit is left out, never cut
    assert "Next ▶" in visible_text(message)  # paging survives the trimming
    assert "Share to channel" in visible_text(message)
    assert len(message["text"]) <= 3000
    assert "<!channel>" not in json.dumps(message)


def test_public_replies_have_no_share_button() -> None:
    reply = Reply(kind=ReplyKind.PROJECT, title="Redis", command="project redis", shareable=True)
    assert [b["text"]["text"] for b in buttons(render_message(reply))] == ["Share to channel"]
    public = reply.model_copy(update={"public": True})
    assert buttons(render_message(public)) == []
    assert buttons(render_message(reply, share=False)) == []


def test_styles_and_url_buttons() -> None:
    reply = Reply(
        kind=ReplyKind.DONE,
        title="Marked",
        actions=(
            Action(label="What next?", command="next", style=Style.PRIMARY),
            Action(label="Undo", command="undo redis", style=Style.DANGER),
            Action(label="Open report", url="https://example.org/r.md"),
        ),
    )
    first, second, third = buttons(render_message(reply))
    assert (first["style"], first["value"], first["action_id"]) == (
        "primary",
        "next",
        "roadmap:cmd:1",
    )
    assert (second["style"], second["value"]) == ("danger", "undo redis")
    assert third["url"] == "https://example.org/r.md" and "style" not in third
    assert third["action_id"] == "roadmap:url:3"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("a & b", "a &amp; b"),
        ("&amp;", "&amp;amp;"),
        ("<https://evil.test|click>", "&lt;https://evil.test|click&gt;"),
    ],
)
def test_escape(typed: str, shown: str) -> None:
    assert escape(typed) == shown
    message = render_message(Reply(kind=ReplyKind.ERROR, title=typed, text=typed, footer=typed))
    assert visible_text(message).split("\n") == [shown] * 3
    if "<" in typed:
        assert typed not in json.dumps(message)


def test_fit_and_trim_never_cut_an_entity_or_a_link() -> None:
    assert fit("<<<<", 10) == "&lt;&lt;…"
    assert fit("abc", 3) == "abc"
    for limit in range(2, 40):
        cut = fit("a&b<c>d" * 5, limit)
        assert len(cut) <= limit
        assert not cut.rstrip("…").endswith(("&", "&l", "&lt", "&a", "&am", "&amp", "&g", "&gt"))
    markup = "see " + link("https://example.org/very/long/path", "the report") + " now"
    for limit in range(5, len(markup)):
        cut = trim(markup, limit)
        assert len(cut) <= limit
        assert cut.count("<") == cut.count(">")


def test_links_cannot_be_broken_by_their_url_or_label() -> None:
    assert link("https://x.test/a|b>c", "x > y | z") == "<https://x.test/a%7Cb%3Ec|x &gt; y ¦ z>"
    assert link("https://x.test/?a=1&b=2", "q") == "<https://x.test/?a=1&amp;b=2|q>"


def test_a_features_paged_list_pages_with_the_apps_grammar() -> None:
    # A feature's word ('group [page N]') is known to the app's core, not to the bare
    # grammar: the app passes its own, so such a list gets page buttons.
    @dataclass(frozen=True)
    class Members:
        page: int | None = None

    def parse_members(head: str, words: list[str]) -> Members:
        return Members(int(words[1]) if len(words) == 2 and words[1].isdigit() else None)

    language = Language(CORE_USAGES)
    language.add(Usage("members", "members [page N]", "who is here", "members", parse_members))
    reply = Reply(
        kind=ReplyKind.NOTICE,
        title="Members",
        items=tuple(Item(title=f"member {i}") for i in range(25)),
        command="members",
    )
    bare = render_message(reply)
    assert not any("page" in str(b.get("value", "")) for b in buttons(bare))
    with_app = render_message(
        reply, pageable=partial(pages_by_grammar, parse_command=language.parse)
    )
    assert button_labeled(with_app, "Next ▶")["value"] == "members page 2"


def test_each_message_shows_its_own_sections_when_many_share_some() -> None:
    """A fan-out's digests share a step's sections (rendered once for all of them); a
    section made anew, even one taking the place in memory of a freed one, is its own."""
    shared = Section(heading="To discuss", items=(Item(title="What does it cost?"),))
    for week in range(50):
        own = Section(heading="The group so far", text=f"{week} of 3 members have read it.")
        shown = visible_text(
            render_message(Reply(kind=ReplyKind.DIGEST, title="Digest", sections=(shared, own)))
        )
        assert "What does it cost?" in shown
        assert f"{week} of 3 members have read it." in shown
        del own  # the next week's section may well be made where this one was
