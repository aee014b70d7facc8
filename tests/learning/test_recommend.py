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
    working_level,
)
from roadmap_bot.store import Mark, Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def marks(*slugs: str, status: Status = Status.DONE, start: int = 0) -> dict[str, Mark]:
    return {s: Mark(status, T0 + timedelta(days=start + i)) for i, s in enumerate(slugs)}


def level_slugs(catalog: Catalog, level: Level) -> list[str]:
    return [p.slug for p in catalog.level(level)]


def test_nothing_read_starts_at_the_first_beginner_project(catalog: Catalog) -> None:
    pick = next_for_person(catalog, {})
    assert pick is not None
    assert pick.project.slug == "fzf"
    assert pick.rule is Rule.LEVEL
    assert pick.reason == (
        "Your level is beginner: 0 of 11 read. "
        "It comes first in the roadmap's order among those left."
    )


def test_the_working_level_is_one_above_the_highest_more_than_half_read(
    catalog: Catalog,
) -> None:
    beginner = level_slugs(catalog, Level.BEGINNER)  # 11
    advanced = level_slugs(catalog, Level.ADVANCED)  # 38
    assert working_level(catalog, {}) is Level.BEGINNER
    assert working_level(catalog, marks(*beginner[:5])) is Level.BEGINNER  # 5 of 11: not more
    assert working_level(catalog, marks(*beginner[:6])) is Level.INTERMEDIATE
    assert working_level(catalog, marks(*advanced[:19])) is Level.BEGINNER  # exactly half
    assert working_level(catalog, marks(*advanced[:20])) is Level.ADVANCED  # at most advanced


def test_after_most_of_beginner_comes_intermediate_never_advanced(catalog: Catalog) -> None:
    beginner = level_slugs(catalog, Level.BEGINNER)
    pick = next_for_person(catalog, marks(*beginner))
    assert pick is not None and pick.project.level is Level.INTERMEDIATE
    assert pick.reason.startswith(
        "Your level is intermediate (you read 11 of 11 at beginner): 0 of 35 read."
    )


def test_thirty_advanced_read_gets_the_other_advanced_before_any_beginner(
    catalog: Catalog,
) -> None:
    advanced = level_slugs(catalog, Level.ADVANCED)
    done = marks(*advanced[:30])
    for _ in range(8):
        pick = next_for_person(catalog, done)
        assert pick is not None and pick.project.level is Level.ADVANCED
        done[pick.project.slug] = Mark(Status.DONE, T0 + timedelta(days=100 + len(done)))
    pick = next_for_person(catalog, done)
    # advanced is exhausted: the nearest level with unread projects, the lower one on a tie
    assert pick is not None and pick.rule is Rule.NEAREST
    assert pick.project.level is Level.INTERMEDIATE
    assert pick.reason.startswith(
        "At advanced, your level, nothing is left unread; "
        "the nearest level with some is intermediate: 0 of 35 read."
    )


def test_reading_a_path_step_never_starts_the_path(catalog: Catalog) -> None:
    pick = next_for_person(catalog, marks("vite"))
    assert pick is not None and pick.rule is Rule.LEVEL
    assert pick.project.level is Level.BEGINNER
    assert "path" not in pick.reason


def test_a_followed_path_continues_at_its_first_unread_step(catalog: Catalog) -> None:
    done = marks("containerd", "moby") | marks("fzf", start=9)
    pick = next_for_person(catalog, done, follows=["container-ecosystem"])
    assert pick is not None and pick.rule is Rule.PATH
    assert pick.project.slug == "podman"  # advanced, though the person is a beginner
    assert pick.step is not None and pick.step.step == 2
    assert pick.reason.startswith("Step 2 of 6 in Container Ecosystem, which you follow. ")
    assert pick.reason.endswith("It builds on containerd, which you read.")
    assert [p.slug for p in pick.builds_on] == ["containerd"]


def test_the_latest_followed_path_first_and_finished_ones_are_passed(catalog: Catalog) -> None:
    follows = ["security-and-secrets", "web-development"]
    pick = next_for_person(catalog, {}, follows)
    assert pick is not None and pick.project.slug == "trivy"
    done = marks(*catalog.path("security-and-secrets").steps)
    pick = next_for_person(catalog, done, follows)
    assert pick is not None and pick.project.slug == "react"


def test_passed_steps_are_passed_over(catalog: Catalog) -> None:
    state = marks("containerd") | marks("podman", status=Status.SKIPPED, start=5)
    pick = next_for_person(catalog, state, ["container-ecosystem"])
    assert pick is not None and pick.project.slug == "moby"


def test_a_report_being_read_is_named(catalog: Catalog) -> None:
    pick = next_for_person(catalog, marks("kafka", status=Status.READING))
    assert pick is not None and pick.rule is Rule.READING
    assert pick.project.slug == "kafka"
    assert pick.reason == "You marked it as reading on 1 Jan 2026; 'done kafka' when finished."


def test_builds_on_first_then_shared_concepts_then_order(catalog: Catalog) -> None:
    # caddy read: coredns (forked from Caddy) comes before everything else at beginner
    pick = next_for_person(catalog, marks("caddy"))
    assert pick is not None and pick.project.slug == "coredns"
    assert pick.reason.endswith("It builds on Caddy, which you read.")
    # fzf read: the beginner sharing most with it, credited only with tags both carry
    pick = next_for_person(catalog, marks("fzf"))
    assert pick is not None and pick.shared_with is not None
    assert pick.shared_with.slug == "fzf"
    for tag in pick.shared:
        assert tag in pick.project.concepts and tag in catalog.project("fzf").concepts


def test_shared_concepts_name_one_project_that_carries_them_all(catalog: Catalog) -> None:
    # Read etcd and Svelte: a pick sharing concepts is credited with one project only.
    done = marks(*level_slugs(catalog, Level.BEGINNER)) | marks("etcd", "svelte", start=20)
    pick = next_for_person(catalog, done)
    assert pick is not None and pick.shared_with is not None
    other = pick.shared_with
    assert other.slug in done
    assert all(t in other.concepts and t in pick.project.concepts for t in pick.shared)
    labels = [catalog.concept_label(t) for t in pick.shared]
    joiner = " as well as " if any(" and " in label for label in labels) else " and "
    assert f"It shares {joiner.join(labels)} with {other.name}, which you read." in pick.reason


def test_never_something_read_or_passed_and_deterministic(catalog: Catalog) -> None:
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
        "a": marks("caddy", "kafka"),
        "b": {},
        "c": {},
    }
    assert group_marks(members) == {}  # 1 of 3 is not half
    members["b"] = marks("caddy")
    assert set(group_marks(members)) == {"caddy"}  # kafka: still only 1 of 3
    pick = next_for_group(catalog, members)
    assert pick is not None and pick.project.slug == "coredns"
    assert pick.reason == (
        "The group's level is beginner: 1 of 11 read. It builds on Caddy, which the group read."
    )


def test_next_path_skips_finished_and_excluded(catalog: Catalog) -> None:
    done = marks(*catalog.path("web-development").steps)
    pick = next_path(catalog, done, exclude=["web-development"])
    assert pick is not None and pick.path.slug != "web-development"
    assert next_path(catalog, {}) is not None


def test_next_path_prefers_a_path_that_builds_on_what_was_read(catalog: Catalog) -> None:
    pick = next_path(catalog, marks("prometheus"))
    assert pick is not None and pick.path.slug == "observability-stack"
    assert pick.reason == "Its step 2, Grafana, builds on Prometheus, which the group read."
    # three steps of Infrastructure as Code build on Kubernetes, one of Container Ecosystem
    pick = next_path(catalog, marks("kubernetes"))
    assert pick is not None and pick.path.slug == "infrastructure-as-code"
    assert pick.reason == (
        "Its step 3, Crossplane, builds on Kubernetes, which the group read. "
        "It starts with Terraform."
    )
