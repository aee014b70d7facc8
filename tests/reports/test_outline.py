"""Reading a report's outline from its Markdown (pure: no network, no store)."""

from __future__ import annotations

import pytest

from roadmap_bot.reports.markdown import github_anchor, headings, lines_of, plain
from roadmap_bot.reports.outline import (
    MAX_TEXT,
    MalformedReport,
    lead_phrase,
    parse_report,
)

from .conftest import fixture

TEMPLATE_SECTIONS = [
    "Overview",
    "Architecture Overview",
    "Core Components",
    "Data Flow",
    "Key Design Decisions",
    "Dependencies",
    "Testing Strategy",
    "Key Takeaways",
    "References",
]


def test_a_report_in_the_template_gives_its_whole_outline() -> None:
    outline = parse_report(fixture("tidepool"))
    assert outline.name == "Tidepool"
    assert (outline.release, outline.generated_on) == ("v2.3.1 (2025-04-17)", "2025-05-01")
    assert [s.title for s in outline.sections] == TEMPLATE_SECTIONS
    assert outline.section("key design decisions") is not None
    assert [s.anchor for s in outline.sections][4:] == [
        "key-design-decisions",
        "dependencies",
        "testing-strategy",
        "key-takeaways",
        "references",
    ]
    assert outline.decision_titles == (
        "One Append-Only Log per Partition",
        "Acknowledge After fsync",
        "Pull-Based Consumers",
    )
    assert [d.anchor for d in outline.decisions] == [
        "1-one-append-only-log-per-partition",
        "2-acknowledge-after-fsync",
        "3-pull-based-consumers",
    ]
    # a numbered list elsewhere (Data Flow) is not a takeaway; bold lead phrases are unwrapped
    assert outline.takeaways == (
        "Logs Make Replay Cheap",
        "Batching Beats Clever Latency Tricks",
        "Back-Pressure Belongs to the Reader",
    )


def test_only_headings_and_lead_phrases_are_kept_never_the_prose() -> None:
    stored = parse_report(fixture("tidepool")).model_dump_json()
    for prose in (
        "Invented reasoning",
        "keeping every message",
        "a consumer that pulls",
        "Tidepool does not exist",
        "An invented message broker",
        "Accepts batches",
    ):
        assert prose not in stored


def test_the_template_edges_headings_in_fences_markup_and_asides() -> None:
    outline = parse_report(fixture("quillmark"))
    assert outline.name == "Quillmark"  # '# **Quillmark** #': markup and closing hashes go
    assert (outline.release, outline.generated_on) == ("v0.9", None)  # no backticks, no date
    # '1)' numbering, a link inside a heading, '&' (GitHub leaves two dashes);
    # the unnumbered aside and the level-4 heading are not decisions
    assert [(d.title, d.anchor) for d in outline.decisions] == [
        (
            "Templates Compiled Once, Rendered Many Times",
            "1-templates-compiled-once-rendered-many-times",
        ),
        ("Content Hashes as Cache Keys & Build IDs", "2-content-hashes-as-cache-keys--build-ids"),
    ]
    # the '## Key Takeaways' inside a ~~~ fence is a code sample: the real section is used,
    # and its item without a lead phrase is left out rather than quoted
    assert outline.takeaways == ("Compile Early", "Hash Everything")
    assert [s.title for s in outline.sections] == TEMPLATE_SECTIONS


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("`v7.4.2` (2025-01-06)", "v7.4.2 (2025-01-06)"),
        ("`5.0.6` (2026)", "5.0.6 (2026)"),
        ("`v1.2` (2025-09)", "v1.2 (2025-09)"),
        ("`2.1.0` (December 12, 2025)", "2.1.0 (December 12, 2025)"),
        ("`main` (Development)", "main (Development)"),
        ("`HEAD` (HEAD, 2026-02-08)", "HEAD (HEAD, 2026-02-08)"),
        ("`3.x` series (latest stable)", "3.x series (latest stable)"),
        ("(named releases)", "(named releases)"),
    ],
)
def test_the_analyzed_release_is_kept_as_the_report_writes_it(cell: str, shown: str) -> None:
    text = fixture("tidepool").replace("`v2.3.1` (2025-04-17)", cell)
    outline = parse_report(text)
    # words in the parentheses are never taken for a date: the cell is shown whole
    assert outline.release == shown
    assert outline.generated_on == "2025-05-01"


def test_windows_line_endings_and_a_byte_order_mark_change_nothing() -> None:
    text = fixture("tidepool")
    assert parse_report("\ufeff" + text.replace("\n", "\r\n")) == parse_report(text)


def test_repeated_headings_get_githubs_numbered_anchors() -> None:
    found = headings(lines_of(fixture("quillmark")))
    overview = [h.anchor for h in found if h.text == "Overview"]
    assert overview == ["overview", "overview-1"]
    # the ~~~ block hides its '## Key Takeaways' line
    assert sum(1 for h in found if h.text == "Key Takeaways") == 1


def test_headings_inside_a_mermaid_block_are_not_headings() -> None:
    found = headings(lines_of(fixture("tidepool")))
    assert not any("inside a diagram" in h.text for h in found)


@pytest.mark.parametrize(
    ("text", "anchor"),
    [
        ("1. Single-Threaded Command Execution", "1-single-threaded-command-execution"),
        ("Why io_uring?", "why-io_uring"),
        ("C++ & Rust", "c--rust"),
        ("Ünïcode Names", "ünïcode-names"),
        ("Raft (v2): Leases", "raft-v2-leases"),
    ],
)
def test_github_anchors(text: str, anchor: str) -> None:
    assert github_anchor(text) == anchor


def test_inline_markup_becomes_plain_text() -> None:
    assert plain("**Bold** and `code` and [a link](https://x.y) and <b>tag</b>") == (
        "Bold and code and a link and tag"
    )
    assert plain("snake_case_names stay") == "snake_case_names stay"
    assert plain(r"an \*escaped\* star") == "an *escaped* star"


@pytest.mark.parametrize(
    ("item", "phrase"),
    [
        ("Logs First: then prose.", "Logs First"),
        ("**Logs First**: then prose.", "Logs First"),
        ("**Logs First:** then prose.", "Logs First"),
        ("Uses std::vector and nothing else", None),  # '::' is not a lead's colon
        ("No colon at all, just a sentence", None),
        (" ".join(["word"] * 20) + ": too long to be a lead phrase", None),
    ],
)
def test_lead_phrases(item: str, phrase: str | None) -> None:
    assert lead_phrase(item) == phrase


def test_very_long_headings_are_shortened() -> None:
    long = "Word " * 60
    text = fixture("tidepool").replace("Pull-Based Consumers", long.strip())
    title = parse_report(text).decisions[2].title
    assert len(title) == MAX_TEXT and title.endswith("…")


def _without(text: str, start: str, end: str) -> str:
    return text[: text.index(start)] + text[text.index(end) :]


TIDEPOOL = fixture("tidepool")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            _without(TIDEPOOL, "## Key Design Decisions", "## Dependencies"),
            "no 'Key Design Decisions' section",
        ),
        (
            _without(TIDEPOOL, "### 1. One", "## Dependencies").replace(
                "## Dependencies", "## Key Design Decisions\n\nProse only.\n\n## Dependencies"
            ),
            "'Key Design Decisions' has no numbered headings",
        ),
        (_without(TIDEPOOL, "## Key Takeaways", "## References"), "no 'Key Takeaways' section"),
        (TIDEPOOL.replace("# Tidepool\n", "", 1), "does not start with a '# Name' title"),
        ("```\n" + TIDEPOOL + "\n```\n", "does not start with a '# Name' title"),
        ("", "does not start with a '# Name' title"),
        ("<!DOCTYPE html>\n<html><body><h1>Rate limited</h1></body></html>", "HTML page"),
        ("  <html lang='en'><head><title>Error</title></head></html>", "HTML page"),
    ],
    ids=[
        "no-decisions",
        "decisions-empty",
        "no-takeaways",
        "no-title",
        "all-fenced",
        "empty",
        "html",
        "html-lowercase",
    ],
)
def test_malformed_reports_say_why(text: str, reason: str) -> None:
    with pytest.raises(MalformedReport, match=reason.replace("(", r"\(")):
        parse_report(text)
