"""Reply -> embed + buttons: Discord's limits for every answer, paging, trimming, escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time

import pytest

from fakes.discord_server import message_problems
from roadmap_bot.adapters.discord.embeds import Options, escape, render
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.replies import Action, Fact, Item, Mark, Reply, ReplyKind, Section, Style
from roadmap_bot.groups.digest import GroupState, ReadingAgenda, compose_digest, plan
from roadmap_bot.groups.schedule import Schedule
from roadmap_bot.learning.catalog import Catalog, Level
from roadmap_bot.store.digests import Subscription

ASKER = Asker(id="discord:1:2", name="alice")


def every_command(catalog: Catalog) -> list[str]:
    """Every command a user can send, for every project, path and level page."""
    commands = ["", "help", "paths", "next", "progress", "random", "search raft", "search go"]
    commands += [f"help {w}" for w in ("next", "search", "beginner", "nonsense")]
    for level in Level:
        commands += [level.value] + [f"{level.value} page {n}" for n in range(1, 6)]
    for project in catalog.projects:
        commands += [f"project {project.slug}", f"done {project.slug}", f"undo {project.slug}"]
    for path in catalog.paths:
        commands.append(f"path {path.slug}")
    commands += ["project nosuchthing", "path nowhere", "search zzzzqqq", "begginer", "next x"]
    return commands


def problems_of(reply: Reply, options: Options | None = None) -> list[str]:
    return message_problems(render(reply, options).payload())


async def test_every_answer_fits_discords_limits(roadmap: Roadmap, catalog: Catalog) -> None:
    # Half the catalog read first, so cards, paths and progress carry marks and sections.
    for project in catalog.projects[::2]:
        await roadmap.ask(f"done {project.slug}", ASKER)
    checked = 0
    for command in every_command(catalog):
        reply = await roadmap.ask(command, ASKER)
        for options in (Options(), Options(offer_share=False), Options(shared_by="alice")):
            assert problems_of(reply, options) == [], command
        checked += 1
    assert checked > 300


async def test_level_list_is_paged_with_buttons(roadmap: Roadmap) -> None:
    reply = await roadmap.ask("advanced", ASKER)
    assert len(reply.items) == 38
    first = render(reply)
    assert first.embeds[0]["footer"]["text"].endswith("Page 1 of 4")
    assert first.embeds[0]["description"].count("\n•") == 10  # ten projects, each on a line
    pager = {b.label: b.custom_id for b in first.buttons}
    assert pager["Page 2 ▶"] == "rb:p:advanced page 2"
    assert not any(label.startswith("◀") for label in pager)

    last = render(await roadmap.ask("advanced page 4", ASKER))
    assert "Page 4 of 4" in last.embeds[0]["footer"]["text"]
    labels = [b.label for b in last.buttons]
    assert "◀ Page 3" in labels and not any(label.endswith("▶") for label in labels)
    # Sharing a later page shares that page.
    assert {b.label: b.custom_id for b in last.buttons}["Share to channel"] == (
        "rb:s:advanced page 4"
    )


async def test_a_list_whose_command_takes_no_page_is_shown_whole(roadmap: Roadmap) -> None:
    reply = await roadmap.ask("help", ASKER)
    assert len(reply.items) > 10
    message = render(reply)
    assert "Page" not in message.embeds[0].get("footer", {}).get("text", "")
    for usage in reply.items:
        assert escape(usage.title) in message.embeds[0]["description"]


def test_a_huge_reply_is_trimmed_not_rejected() -> None:
    long = "word " * 400
    reply = Reply(
        kind=ReplyKind.SEARCH,
        title="T" * 400,
        text=long,
        facts=tuple(Fact(label=f"fact {n}" * 40, value=long) for n in range(30)),
        sections=(Section(heading="Many", items=tuple(Item(title=f"p{n}") for n in range(300))),),
        items=tuple(Item(title=f"Project {n}", detail=long) for n in range(500)),
        actions=tuple(
            Action(label=f"Action {n} " * 20, command=f"project p{n}") for n in range(30)
        ),
        suggestions=tuple(f"search s{n}" for n in range(30)),
        footer=long * 3,
        command="help",  # takes no page: everything must fit in one message
        shareable=True,
    )
    message = render(reply)
    assert problems_of(reply) == []
    embed = message.embeds[0]
    assert embed["title"].endswith("…")
    assert re.search(r"… and \d+ more$", embed["description"])
    assert len(message.rows) == 5
    assert message.rows[-1][-1].label == "Share to channel"  # the last row is kept


def test_plain_text_cannot_format_or_break_the_embed() -> None:
    reply = Reply(
        kind=ReplyKind.PROJECT,
        title="a*b",
        text="**loud** _x_ `code` ~~gone~~ [link](https://evil.example) @everyone",
        items=(Item(title="x]y(z", detail="||spoiler||"),),
        command="project x",
    )
    embed = render(reply).embeds[0]
    assert embed["title"] == r"a\*b"
    description = embed["description"]
    assert r"\*\*loud\*\*" in description and r"\_x\_" in description
    assert r"\[link\]" in description and r"\|\|spoiler\|\|" in description
    assert r"x\]y(z" in description  # the item name cannot close its own markup


@pytest.mark.parametrize(
    ("options", "public", "share"),
    [
        (Options(), False, True),
        (Options(offer_share=False), False, False),  # in a DM
        (Options(shared_by="alice"), True, False),
    ],
)
async def test_visibility_and_share_button(
    roadmap: Roadmap, options: Options, public: bool, share: bool
) -> None:
    message = render(await roadmap.ask("project redis", ASKER), options)
    assert message.ephemeral is not public
    assert ("flags" in message.payload()) is not public
    assert ("Share to channel" in [b.label for b in message.buttons]) is share
    if options.shared_by:
        assert message.embeds[0]["footer"]["text"].endswith("Shared by alice")


def test_a_public_reply_has_no_share_button() -> None:
    reply = Reply(
        kind=ReplyKind.DIGEST, title="This week", command="next", shareable=True, public=True
    )
    message = render(reply)
    assert not message.ephemeral
    assert message.rows == ()


async def test_suggestions_and_actions_become_buttons(roadmap: Roadmap) -> None:
    reply = await roadmap.ask("project redsi", ASKER)
    message = render(reply)
    by_label = {b.label: b for b in message.buttons}
    assert "project redis" in by_label
    assert by_label["project redis"].custom_id == "rb:c:project redis"
    card = render(await roadmap.ask("project redis", ASKER))
    styles = {b.label: b.style for b in card.buttons}
    assert styles["Mark done"] == 1  # primary
    report = next(b for b in card.buttons if b.url)
    assert report.label == "Open report" and report.url.endswith("/redis/README.md")


def test_duplicate_or_overlong_commands_never_make_bad_buttons() -> None:
    reply = Reply(
        kind=ReplyKind.ERROR,
        title="?",
        actions=(
            Action(label="A", command="next"),
            Action(label="B", command="next"),
            Action(label="Long", command="search " + "x" * 120, style=Style.DANGER),
        ),
        suggestions=("next",),
    )
    message = render(reply)
    assert [b.label for b in message.buttons] == ["A"]
    assert problems_of(reply) == []


def test_marks_show_as_symbols() -> None:
    reply = Reply(
        kind=ReplyKind.PATH,
        title="Path",
        items=(
            Item(title="One", mark=Mark.DONE, prefix="1."),
            Item(title="Two", mark=Mark.CURRENT, prefix="2."),
        ),
    )
    lines = render(reply).embeds[0]["description"].splitlines()
    assert lines == ["✅ 1. **One**", "👉 2. **Two**"]


def test_weekly_digests_render_publicly_within_limits(catalog: Catalog) -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    agenda = ReadingAgenda(decisions=tuple(f"Decision {n} " * 20 for n in range(12)))
    targets = [f"path:{p.slug}" for p in catalog.paths] + [f"level:{lv.value}" for lv in Level]
    rendered = 0
    for target in targets:
        steps = plan(catalog, target)
        for covered in (0, len(steps) // 2, len(steps)):  # first, middle, completion
            sub = Subscription(1, "discord:1:2", target, Schedule(0, time(9), "UTC"), "u", now, now)
            state = GroupState(
                covered=dict.fromkeys(steps[:covered], "posted"),
                posted=steps[:covered],
                marks={},
                names={},
            )
            digest = compose_digest(catalog, sub, state, dict.fromkeys(steps, agenda))
            for reply in (digest.message, digest.discussion):
                if reply is None:
                    continue
                message = render(reply)
                assert message_problems(message.payload()) == [], target
                assert not message.ephemeral
                assert "Share to channel" not in [b.label for b in message.buttons]
                rendered += 1
    assert rendered >= 2 * len(targets)
    first = render(compose_digest(catalog, sub, GroupState({}, [], {}, {})).message)
    assert [b.label for b in first.buttons][:3] == ["Done", "Reading", "Skip for me"]


def test_a_long_report_counts_only_the_decisions_left_out(catalog: Catalog) -> None:
    from roadmap_bot.reports.outline import Anchor, Outline
    from roadmap_bot.reports.reply import report_reply
    from roadmap_bot.reports.service import ReportState

    project = catalog.project("kubernetes")
    titles = [f"Decision number {n} about a fairly long design choice" for n in range(1, 16)]
    sections = ["Overview", "Architecture Overview", "Core Components", "Data Flow"]
    sections += ["Key Design Decisions", "Dependencies", "Testing Strategy", "Key Takeaways"]
    outline = Outline(
        name="Kubernetes",
        release="v1.31.0 (2025-08-13)",
        generated_on="2026-02-08",
        sections=tuple(
            Anchor(title=t, anchor=t.lower().replace(" ", "-")) for t in [*sections, "References"]
        ),
        decisions=tuple(
            Anchor(title=t, anchor=f"{n}-" + t.lower().replace(" ", "-"))
            for n, t in enumerate(titles, 1)
        ),
        takeaways=("Short one", "Another"),
    )
    message = render(report_reply(project, ReportState(outline)))
    assert message_problems(message.payload()) == []
    fields = {f["name"]: f["value"] for f in message.embeds[0]["fields"]}
    decisions = fields["Key Design Decisions"].splitlines()
    shown = [line for line in decisions if "Decision number" in line]
    assert 0 < len(shown) < 15
    # the count is the decisions not shown, and the section's own link is still there
    assert f"… and {15 - len(shown)} more" in decisions
    assert decisions[-1].startswith("[Key Design Decisions](")
    # the outline's links are whole links: none is cut in the middle of its URL
    outline_links = re.findall(r"\[([^\]]+)\]\((\S+?)\)", fields["Outline"])
    assert outline_links and all(url.startswith("https://") for _, url in outline_links)
    assert fields["Outline"].count("](") == fields["Outline"].count(")")
