"""Search: word forms, synonyms, concepts as written, ranking and what matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from roadmap_bot.learning.catalog import Catalog, CatalogError, Level, Project, load_catalog
from roadmap_bot.learning.search import SearchIndex


@pytest.fixture(scope="module")
def index(catalog: Catalog) -> SearchIndex:
    return SearchIndex(catalog.projects, catalog.concepts, catalog.synonyms)


def slugs(index: SearchIndex, query: str) -> list[str]:
    return [hit.project.slug for hit in index.search(query).hits]


# Every spelling in a group finds the same projects, and finds some.
SAME = [
    ("plugin", "plugins", "pluggable", "Plugins", "plugin architecture"[:6]),
    ("wasm", "webassembly", "WebAssembly", "WASM"),
    ("lsm", "lsm-tree", "LSM tree", "lsmtree"),
    ("k8s", "kubernetes", "K8s"),
    ("event loop", "event-loop", "eventloop", "event loops"),
    ("pub/sub", "pubsub", "pub-sub", "pub sub"),
    ("db", "database", "databases", "DB"),
]


@pytest.mark.parametrize("spellings", SAME, ids=[group[0] for group in SAME])
def test_spellings_and_synonyms_find_the_same_projects(
    index: SearchIndex, spellings: tuple[str, ...]
) -> None:
    first = set(slugs(index, spellings[0]))
    assert first
    for other in spellings[1:]:
        assert set(slugs(index, other)) == first, other


def test_plugin_finds_every_pluggable_project(index: SearchIndex) -> None:
    found = set(slugs(index, "plugin"))
    for slug in (
        "spring-boot", "dapr", "airflow", "nomad", "rocksdb", "envoy", "esbuild", "buf",
        "tauri", "falco", "starship", "coredns", "grafana",
    ):  # fmt: skip
        assert slug in found, slug


def test_wasm_finds_leptos_and_puts_wasmtime_first(index: SearchIndex) -> None:
    found = slugs(index, "wasm")
    assert found[0] == "wasmtime"  # its name starts with the word
    assert "leptos" in found
    assert index.search("wasm").concept == "webassembly"


def test_lsm_finds_the_lsm_based_stores(index: SearchIndex) -> None:
    found = set(slugs(index, "lsm"))
    assert {"rocksdb", "prometheus", "weaviate", "cockroachdb", "tikv"} <= found


def test_kubernetes_by_its_short_name(index: SearchIndex) -> None:
    assert slugs(index, "k8s")[0] == "kubernetes"
    assert slugs(index, "kubernetes")[0] == "kubernetes"


def test_go_finds_all_47_projects_nothing_cut(index: SearchIndex, catalog: Catalog) -> None:
    results = index.search("go")
    written_in_go = [p.slug for p in catalog.projects if p.language == "Go"]
    assert results.total == len(results.hits) == 47
    assert set(written_in_go) <= {hit.project.slug for hit in results.hits}
    assert index.search("go", limit=10).hits == results.hits[:10]


@pytest.mark.parametrize(
    "query", ["raft", "go", "plugin", "database", "rust terminal", "wasm", "event loop", "k8s"]
)
def test_hits_rank_by_field_then_roadmap_order(
    index: SearchIndex, catalog: Catalog, query: str
) -> None:
    order = {p.slug: i for i, p in enumerate(catalog.projects)}
    keys = [(hit.rank, order[hit.project.slug]) for hit in index.search(query).hits]
    assert keys == sorted(keys)


def project(slug: str, name: str, **fields: object) -> Project:
    values: dict[str, object] = {
        "level": Level.BEGINNER,
        "summary": "A small tool.",
        "concepts": ("caching",),
        "repository": f"https://example.org/{slug}",
        "language": "Go",
        "category": "CLI Tool",
        "report_url": f"https://example.org/{slug}.md",
    }
    values.update(fields)
    return Project(slug=slug, name=name, **values)  # type: ignore[arg-type]


def test_ranking_exact_name_prefix_concept_category_language_summary() -> None:
    # Listed weakest first, so the roadmap's order cannot explain the ranking.
    projects = [
        project("in-summary", "Alpha", summary="Written for zig users."),
        project("in-language", "Beta", language="Zig"),
        project("in-category", "Gamma", category="Zig Tooling"),
        project("in-concept", "Delta", concepts=("zig-comptime",)),
        project("name-prefix", "Zigbee Hub"),
        project("exact", "Zig"),
        project("elsewhere", "Epsilon"),
    ]
    index = SearchIndex(projects, {"caching": "caching", "zig-comptime": "compile-time code"})
    hits = index.search("zig").hits
    assert [h.project.slug for h in hits] == [
        "exact", "name-prefix", "in-concept", "in-language", "in-category", "in-summary",
    ]  # fmt: skip
    # Category and language share a rank: ties keep the catalog's order.
    assert [h.rank for h in hits] == [0, 1, 2, 3, 3, 4]
    matched = {h.project.slug: h.fields for h in hits}
    assert matched["in-category"] == ("category",)  # never called the language
    assert matched["in-language"] == ("language",)
    assert matched["in-concept"] == ("concept",)
    assert matched["in-summary"] == ("summary",)
    assert matched["exact"] == ("name",)


def test_hits_say_where_they_matched(index: SearchIndex) -> None:
    by_slug = {h.project.slug: h.fields for h in index.search("database").hits}
    assert "category" in by_slug["redis"] and "language" not in by_slug["redis"]
    go = {h.project.slug: h.fields for h in index.search("go").hits}
    assert go["prometheus"] == ("language",)


def test_nothing_found_suggests_real_words(index: SearchIndex) -> None:
    results = index.search("kafak")
    assert not results.hits and "kafka" in results.suggestions
    assert index.search("pluggin").suggestions  # a typo of a word, not of a name


def _write_catalog(tmp_path: Path, synonyms: str) -> Path:
    source = Path(load_catalog().source)
    for name in ("projects.toml", "paths.toml"):
        (tmp_path / name).write_text((source / name).read_text(encoding="utf-8"), "utf-8")
    concepts = (source / "concepts.toml").read_text(encoding="utf-8")
    concepts = concepts[: concepts.index("[synonyms]")] + synonyms
    (tmp_path / "concepts.toml").write_text(concepts, encoding="utf-8")
    return tmp_path


def test_the_catalog_loads_its_synonyms(catalog: Catalog) -> None:
    assert "wasm" in catalog.synonyms["webassembly"]


@pytest.mark.parametrize(
    ("synonyms", "problem"),
    [
        ('[synonyms]\nplugin = ["Pluggable"]\n', "not one lower-case word"),
        ('[synonyms]\nplugin = ["pluggable"]\naddon = ["pluggable"]\n', "already a synonym"),
        ("[synonyms]\nplugin = []\n", "non-empty list"),
        ('[synonyms]\nplugin = "pluggable"\n', "non-empty list"),
        ('[synonyms]\nplugin = ["plugin"]\n', "lists the word itself"),
        ('[synonyms]\nplugin = ["event loop"]\n', "not one lower-case word"),
    ],
)
def test_bad_synonyms_are_catalog_problems(tmp_path: Path, synonyms: str, problem: str) -> None:
    with pytest.raises(CatalogError, match=problem):
        load_catalog(_write_catalog(tmp_path, synonyms))
