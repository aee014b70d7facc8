"""The core end to end: text in, the reply a user sees out (through a real store)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from roadmap_bot.chat.commands import ShowReport
from roadmap_bot.chat.core import Asker, Roadmap
from roadmap_bot.chat.render_text import render_text
from roadmap_bot.chat.replies import Mark, Reply, ReplyKind
from roadmap_bot.clock import FixedClock


async def test_empty_input_and_help_show_every_command(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("", alice)
    assert reply.kind is ReplyKind.HELP and reply.ok
    listed = " ".join(item.title for item in reply.items)
    for word in (
        "beginner",
        "project",
        "paths",
        "search",
        "next",
        "done",
        "undo",
        "progress",
        "random",
    ):
        assert word in listed
    one = await roadmap.ask("help done", alice)
    assert one.title == "/roadmap done NAME"
    assert "/roadmap done fzf" in render_text(one)


async def test_help_for_an_unknown_command(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("help serach", alice)
    assert not reply.ok
    assert "help search" in reply.suggestions


async def test_level_list_in_roadmap_order_with_marks(roadmap: Roadmap, alice: Asker) -> None:
    await roadmap.ask("done gin", alice)
    reply = await roadmap.ask("beginner", alice)
    assert reply.title == "Beginner projects (11)"
    assert [i.slug for i in reply.items][:3] == ["fzf", "starship", "gin"]
    assert {i.slug: i.mark for i in reply.items}["gin"] is Mark.DONE
    assert "You have read 1 of 11" in reply.footer
    # Text pages like the chat platforms: ten at a time, and how to see the rest.
    first = render_text(reply)
    assert reply.page is None and "Starship" in first and "Excalidraw" not in first
    assert "(page 1 of 2 - 'beginner page 2' for more)" in first
    assert "Excalidraw" in render_text(await roadmap.ask("beginner page 2", alice))


async def test_text_paging_of_a_later_page(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("intermediate page 2", alice)
    text = render_text(reply)
    assert reply.page == 2
    assert "page 2 of 4 - 'intermediate page 3' for more" in text
    assert "Redis" not in text  # first page


async def test_project_card(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("project podman", alice)
    assert reply.kind is ReplyKind.PROJECT and reply.title == "Podman"
    facts = {f.label: f.value for f in reply.facts}
    assert facts["Level"] == "advanced"
    assert facts["Language"] == "Go"
    assert facts["Category"] == "Container Runtime"
    assert facts["Your status"] == "not read yet"
    paths = next(s for s in reply.sections if s.heading == "Learning paths")
    assert paths.items[0].title == "Step 2 of 6 in Container Ecosystem"
    related = next(s for s in reply.sections if s.heading == "Related projects")
    assert related.items and all(i.detail.startswith("shares ") for i in related.items)
    urls = {link.label: link.url for link in reply.links}
    assert urls["Key Design Decisions"].endswith("/oss/podman/README.md#key-design-decisions")
    assert urls["Key Takeaways"].endswith("/oss/podman/README.md#key-takeaways")
    commands = [a.command for a in reply.actions if a.command]
    assert "done podman" in commands
    assert "project moby" in commands  # next in path
    assert any(a.url == reply.links[0].url for a in reply.actions)  # Open report


async def test_bare_name_and_path_only_project(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("Thanos", alice)
    assert reply.title == "Thanos"
    assert {f.label: f.value for f in reply.facts}["Level"] == "path only"
    # the last step has no "next in path"
    assert not any((a.command or "").startswith("project ") for a in reply.actions)


async def test_card_shows_the_askers_status(
    roadmap: Roadmap, alice: Asker, clock: FixedClock
) -> None:
    await roadmap.ask("done redis", alice)
    reply = await roadmap.ask("redis", alice)
    assert {f.label: f.value for f in reply.facts}["Your status"] == "done on 23 Nov 2026"
    assert "undo redis" in [a.command for a in reply.actions]


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("kuberntes", "project kubernetes"),
        ("project kubernets", "project kubernetes"),
        ("done reddis", "done redis"),
        ("undo promethus", "undo prometheus"),
        ("begginer", "beginner"),
        ("serach raft", "search raft"),
        ("path observabilty", "path observability-stack"),
        ("path data infra", "path data-infrastructure"),
    ],
)
async def test_did_you_mean(roadmap: Roadmap, alice: Asker, text: str, suggestion: str) -> None:
    reply = await roadmap.ask(text, alice)
    assert not reply.ok
    assert suggestion in reply.suggestions, reply.suggestions
    assert "Did you mean" in render_text(reply)


async def test_path_by_title_or_part_of_its_slug(roadmap: Roadmap, alice: Asker) -> None:
    assert (await roadmap.ask("path Observability Stack", alice)).title == "Observability Stack"
    assert (await roadmap.ask("path observability", alice)).title == "Observability Stack"
    assert (await roadmap.ask("security and secrets", alice)).title == "Security and Secrets"


async def test_path_view_shows_marks_and_position(roadmap: Roadmap, alice: Asker) -> None:
    await roadmap.ask("done prometheus", alice)
    await roadmap.ask("done grafana", alice)
    reply = await roadmap.ask("path observability-stack", alice)
    marks = [i.mark for i in reply.items]
    assert marks == [Mark.DONE, Mark.DONE, Mark.CURRENT, Mark.NONE, Mark.NONE]
    assert reply.footer == "You are at step 3 of 5: Grafana Loki."
    assert {f.label: f.value for f in reply.facts}["Progress"] == "2 of 5 done"
    text = render_text(reply)
    assert "✓ 1. Prometheus" in text and "▸ 3. Grafana Loki" in text


async def test_paths_list(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("paths", alice)
    assert len(reply.items) == 7
    assert "containerd → Podman → Moby (Docker Engine) → Docker Compose" in reply.items[0].detail


async def test_search_a_concept_finds_the_projects_that_teach_it(
    roadmap: Roadmap, alice: Asker
) -> None:
    reply = await roadmap.ask("search raft", alice)
    slugs = {i.slug for i in reply.items}
    teaching = {p.slug for p in roadmap.catalog.projects if "raft" in p.concepts}
    assert teaching <= slugs
    assert reply.title.startswith("Projects that teach Raft")


async def test_search_ranks_names_first(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("search kafka", alice)
    assert reply.items[0].slug == "kafka"
    reply = await roadmap.ask("search rust terminal", alice)
    assert reply.items and all(
        roadmap.catalog.project(i.slug or "").language == "Rust" for i in reply.items
    )


async def test_search_with_no_hits_suggests(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("search kafak", alice)
    assert not reply.ok
    assert "search kafka" in reply.suggestions


async def test_done_then_undo(roadmap: Roadmap, alice: Asker, clock: FixedClock) -> None:
    first = await roadmap.ask("done fzf", alice)
    assert first.title == "Marked fzf as done. Nice work!"
    clock.advance(timedelta(days=3))
    again = await roadmap.ask("done FZF", alice)
    assert again.title == "fzf was already marked: done on 23 Nov 2026."
    undone = await roadmap.ask("undo fzf", alice)
    assert undone.title == "Removed your 'done' mark on fzf."
    nothing = await roadmap.ask("undo fzf", alice)
    assert nothing.title == "fzf had no mark, so there was nothing to undo."


async def test_marks_are_per_person(roadmap: Roadmap, alice: Asker, bob: Asker) -> None:
    await roadmap.ask("done fzf", alice)
    reply = await roadmap.ask("project fzf", bob)
    assert {f.label: f.value for f in reply.facts}["Your status"] == "not read yet"


async def test_next_starts_at_the_beginning_and_explains(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("next", alice)
    assert reply.title == "Read next: fzf"
    assert reply.text
    await roadmap.ask("done containerd", alice)
    reply = await roadmap.ask("next", alice)  # containerd sits on a path: no switch onto it
    assert reply.title == "Read next: Starship"
    assert reply.text == (
        "Your level is beginner: 0 of 11 read. "
        "It shares plugin architecture with containerd, which you read."
    )
    await roadmap.ask("follow container ecosystem", alice)
    reply = await roadmap.ask("next", alice)
    assert reply.title == "Read next: Podman"
    assert reply.text.startswith("Step 2 of 6 in Container Ecosystem, which you follow.")


async def test_progress_of_self_and_others(roadmap: Roadmap, alice: Asker, bob: Asker) -> None:
    await roadmap.ask("done fzf", bob)
    await roadmap.ask("done redis", bob)
    mine = await roadmap.ask("progress", alice)
    assert mine.title == "Your progress"
    assert mine.text.startswith("0 of 100 reports read. Next up: fzf.")
    theirs = await roadmap.ask("progress @bob", alice)
    assert theirs.title == "bob's progress"
    meters = {m.label: (m.done, m.total) for s in theirs.sections for m in s.meters}
    assert meters["Beginner"] == (1, 11)
    assert meters["Intermediate"] == (1, 35)
    assert meters["Data Infrastructure"] == (1, 5)
    nobody = await roadmap.ask("progress carol", alice)
    assert nobody.title == "carol has no progress yet."
    bad = await roadmap.ask("progress two people", alice)
    assert not bad.ok


async def test_random_prefers_unread_projects_of_the_level(roadmap: Roadmap, alice: Asker) -> None:
    beginners = [p.slug for p in roadmap.catalog.level(roadmap.catalog.project("fzf").level)]  # type: ignore[arg-type]
    for slug in beginners[:-1]:
        await roadmap.ask(f"done {slug}", alice)
    reply = await roadmap.ask("random beginner", alice)
    assert reply.kind is ReplyKind.RANDOM
    assert reply.command == f"project {beginners[-1]}"
    assert "random beginner" in [a.command for a in reply.actions]


@pytest.mark.parametrize(
    "text",
    [
        "<!channel>",
        "@here",
        "' OR 1=1 --",
        "page",
        "page 2",
        "beginner page 999",
        "ñandú",
        "x" * 5000,
        "done " + "y" * 300,
        "search ***",
        "progress <@U123>",
        "help help help",
    ],
)
async def test_odd_input_never_raises(roadmap: Roadmap, alice: Asker, text: str) -> None:
    reply = await roadmap.ask(text, alice)
    assert reply.title
    assert render_text(reply)


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("projct reddis", "project redis"),
        ("projct redis", "project redis"),
        ("dnoe reddis", "done redis"),
        ("raport kafak", "report kafka"),
        ("pth observabilty", "path observability-stack"),
    ],
)
async def test_did_you_mean_offers_the_fix_that_works_first(
    roadmap: Roadmap, alice: Asker, text: str, first: str
) -> None:
    from roadmap_bot.reports.command import REPORT  # 'report' is the reports feature's word

    roadmap.register(ShowReport, _no_report, REPORT)
    reply = await roadmap.ask(text, alice)
    assert not reply.ok
    assert reply.suggestions[0] == first, reply.suggestions
    assert text not in reply.suggestions
    # The fix answers; no suggestion repeats a misspelling that fails.
    assert (await roadmap.ask(first, alice)).ok
    assert not any("reddis" in s and not s.startswith("search") for s in reply.suggestions)


async def _no_report(command: ShowReport, who: Asker) -> Reply:
    return Reply(kind=ReplyKind.REPORT, title=command.name)


async def test_a_suggestion_never_repeats_the_failed_input(roadmap: Roadmap, alice: Asker) -> None:
    for text in ("done reddis", "path nowhere-at-all", "search zzzqqq", "random expert"):
        reply = await roadmap.ask(text, alice)
        assert not reply.ok
        assert text not in reply.suggestions, (text, reply.suggestions)


async def test_follow_and_unfollow_a_path(roadmap: Roadmap, alice: Asker) -> None:
    view = await roadmap.ask("path container-ecosystem", alice)
    assert ("Follow this path", "follow container-ecosystem") in [
        (a.label, a.command) for a in view.actions
    ]
    await roadmap.ask("done containerd", alice)
    reply = await roadmap.ask("follow Container Ecosystem", alice)
    assert reply.ok and reply.title == "You follow Container Ecosystem."
    assert reply.text == ("'next' continues it at step 2 of 6: Podman, whatever its level.")
    again = await roadmap.ask("follow container-ecosystem", alice)
    assert again.title == "You already follow Container Ecosystem."
    view = await roadmap.ask("path container-ecosystem", alice)
    labels = [a.label for a in view.actions]
    assert "Unfollow this path" in labels and "Follow this path" not in labels
    assert (await roadmap.ask("next", alice)).title == "Read next: Podman"

    reply = await roadmap.ask("unfollow container-ecosystem", alice)
    assert reply.ok and reply.title == "You no longer follow Container Ecosystem."
    assert (await roadmap.ask("next", alice)).title == "Read next: Starship"
    reply = await roadmap.ask("unfollow container-ecosystem", alice)
    assert not reply.ok and reply.title == "You do not follow Container Ecosystem."


async def test_follow_needs_a_known_path(roadmap: Roadmap, alice: Asker) -> None:
    reply = await roadmap.ask("follow observabilty stack", alice)
    assert not reply.ok
    assert reply.title == "There is no learning path called 'observabilty stack'."
    assert reply.suggestions[0] == "follow observability-stack"
    reply = await roadmap.ask("follow", alice)
    assert not reply.ok and "follow container-ecosystem" in reply.suggestions
    assert (await roadmap.ask("help follow", alice)).title == "/roadmap follow PATH"


async def test_follows_are_kept_per_person(roadmap: Roadmap, alice: Asker, bob: Asker) -> None:
    await roadmap.ask("follow security-and-secrets", alice)
    assert (await roadmap.ask("next", alice)).title == "Read next: Trivy"
    assert (await roadmap.ask("next", bob)).title == "Read next: fzf"
