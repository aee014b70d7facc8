"""The recommender's rules, for a person and for a group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roadmap_bot.learning.catalog import Catalog, Level
from roadmap_bot.learning.recommend import (
    Rule,
    group_marks,
    next_for_group,
    next_for_person,
    next_path,
)
from roadmap_bot.store import Mark, Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def marks(*slugs: str, status: Status = Status.DONE, start: int = 0) -> dict[str, Mark]:
    return {s: Mark(status, T0 + timedelta(days=start + i)) for i, s in enumerate(slugs)}


def test_nothing_done_starts_at_the_first_beginner_project(catalog: Catalog) -> None:
    pick = next_for_person(catalog, {})
    assert pick is not None
    assert pick.project.slug == "fzf"
    assert pick.rule is Rule.START


def test_continues_the_most_recently_touched_path(catalog: Catalog) -> None:
    done = marks("prometheus", "redis")  # redis is newer: data-infrastructure wins
    pick = next_for_person(catalog, done)
    assert pick is not None and pick.rule is Rule.PATH
    assert pick.project.slug == "kafka"
    assert pick.reason.startswith("Step 2 of 5 in Data Infrastructure")
    assert "Redis" in pick.reason
    done = marks("redis", "prometheus")
    assert next_for_person(catalog, done).project.slug == "grafana"  # type: ignore[union-attr]


def test_a_path_step_done_out_of_order_is_skipped_over(catalog: Catalog) -> None:
    pick = next_for_person(catalog, marks("containerd", "moby"))
    assert pick is not None and pick.project.slug == "podman"


def test_reading_counts_as_started_and_is_recommended_to_finish(catalog: Catalog) -> None:
    pick = next_for_person(catalog, marks("kafka", status=Status.READING))
    assert pick is not None and pick.project.slug == "kafka"
    assert "finish it" in pick.reason


def test_skipped_is_never_recommended(catalog: Catalog) -> None:
    state = marks("containerd") | marks("podman", status=Status.SKIPPED, start=5)
    pick = next_for_person(catalog, state)
    assert pick is not None and pick.project.slug == "moby"


def test_moves_up_a_level_once_most_is_done(catalog: Catalog) -> None:
    beginners = [p.slug for p in catalog.level(Level.BEGINNER)]
    # no paths among these: coredns and vite are path steps, leave them out
    plain = [s for s in beginners if not catalog.paths_of(s)]
    few = marks(*plain[:3])
    pick = next_for_person(catalog, few)
    assert pick is not None and pick.project.level is Level.BEGINNER
    most = marks(*plain[:6])
    pick = next_for_person(catalog, most)
    assert pick is not None and pick.rule is Rule.LEVEL_UP
    assert pick.project.level is Level.INTERMEDIATE
    assert "6 of 11" in pick.reason


def test_prefers_shared_concepts_within_the_level(catalog: Catalog) -> None:
    pick = next_for_person(catalog, marks("fzf"))
    assert pick is not None and pick.rule is Rule.CONCEPTS
    assert set(pick.project.concepts) & set(catalog.project("fzf").concepts)
    assert "fzf" in pick.reason


def test_never_something_done_and_deterministic(catalog: Catalog) -> None:
    done: dict[str, Mark] = {}
    seen = []
    for day in range(len(catalog.projects)):
        pick = next_for_person(catalog, done)
        assert pick is not None
        assert pick.project.slug not in done
        assert next_for_person(catalog, dict(done)) == pick
        seen.append(pick.project.slug)
        done[pick.project.slug] = Mark(Status.DONE, T0 + timedelta(days=day))
    assert next_for_person(catalog, done) is None
    assert len(set(seen)) == len(catalog.projects)


def test_group_counts_what_half_the_members_did(catalog: Catalog) -> None:
    members: dict[str, dict[str, Mark]] = {
        "a": marks("redis", "kafka"),
        "b": {},
        "c": {},
    }
    assert group_marks(members) == {}  # 1 of 3 is not half
    members["b"] = marks("redis")
    assert set(group_marks(members)) == {"redis"}  # kafka: still only 1 of 3
    pick = next_for_group(catalog, members)
    assert pick is not None and pick.project.slug == "kafka"
    assert "the group" in pick.reason


def test_next_path_skips_finished_and_excluded(catalog: Catalog) -> None:
    done = marks(*catalog.path("web-development").steps)
    pick = next_path(catalog, done, exclude=["web-development"])
    assert pick is not None and pick.path.slug != "web-development"
    assert next_path(catalog, {}) is not None
