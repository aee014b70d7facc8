"""Autocomplete choices: by name, concept and level, at most 25, within Discord's limits."""

from __future__ import annotations

import pytest

from roadmap_bot.adapters.discord.autocomplete import Completer
from roadmap_bot.learning.catalog import Catalog, Level


@pytest.fixture(scope="module")
def completer(catalog: Catalog) -> Completer:
    return Completer(catalog)


def values(found: list) -> list[str]:  # type: ignore[type-arg]
    return [c.value for c in found]


def test_a_name_prefix_comes_first(completer: Completer) -> None:
    assert values(completer.projects("red"))[0] == "redis"
    assert values(completer.projects("Kube"))[0] == "kubernetes"
    assert values(completer.projects("go-eth"))[0] == "go-ethereum"


def test_a_concept_finds_the_projects_that_teach_it(completer: Completer, catalog: Catalog) -> None:
    found = completer.projects("raft")
    teaching = {p.slug for p in catalog.projects if "raft" in p.concepts}
    assert set(values(found)) == teaching
    etcd = next(c for c in found if c.value == "etcd")
    assert etcd.name == "etcd · intermediate · teaches Raft consensus"
    assert set(values(completer.projects("event loop"))) == {
        p.slug for p in catalog.projects if "event-loop" in p.concepts
    }


def test_a_level_lists_its_projects(completer: Completer, catalog: Catalog) -> None:
    assert values(completer.projects("beginner")) == [p.slug for p in catalog.level(Level.BEGINNER)]


def test_every_word_must_match(completer: Completer) -> None:
    assert values(completer.projects("etcd raft")) == ["etcd"]
    assert "redis" not in values(completer.projects("data raft"))  # redis: data, no raft


def test_typos_fall_back_to_fuzzy_matching(completer: Completer) -> None:
    assert values(completer.projects("kuberntes"))[0] == "kubernetes"


def test_choices_respect_discords_limits(completer: Completer, catalog: Catalog) -> None:
    slugs = {p.slug for p in catalog.projects}
    for typed in ["", "a", "e", "go", "data", "c", "rust", "x" * 100, "advanced"]:
        found = completer.projects(typed)
        assert len(found) <= 25
        for choice in found:
            assert 1 <= len(choice.name) <= 100 and choice.value in slugs


def test_nothing_typed_lists_preferred_projects_first(completer: Completer) -> None:
    found = values(completer.projects("", prefer={"kafka", "etcd"}))
    assert found[:2] == ["etcd", "kafka"]  # catalog order among the preferred
    assert len(found) == 25


def test_undo_offers_what_was_marked(completer: Completer) -> None:
    assert values(completer.marked_projects("", {"redis", "fzf"})) == ["fzf", "redis"]
    assert values(completer.marked_projects("re", {"redis", "fzf"})) == ["redis"]
    # Nothing marked matches: every project is still offered.
    assert values(completer.marked_projects("kafka", {"redis"}))[0] == "kafka"


def test_paths_match_title_and_steps(completer: Completer, catalog: Catalog) -> None:
    assert values(completer.paths("obs")) == ["observability-stack"]
    assert "data-infrastructure" in values(completer.paths("kafka"))
    assert values(completer.paths("")) == [p.slug for p in catalog.paths]
