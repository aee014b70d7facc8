"""The shipped catalog, and every kind of problem a custom catalog can have."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import HttpUrl, TypeAdapter

from roadmap_bot.learning.catalog import (
    _PLAIN_URL,
    Catalog,
    CatalogError,
    Level,
    default_catalog_dir,
    load_catalog,
)


def test_shipped_catalog_has_the_whole_roadmap(catalog: Catalog) -> None:
    assert len(catalog.projects) == 100
    counts = {level: len(catalog.level(level)) for level in Level}
    assert counts == {Level.BEGINNER: 11, Level.INTERMEDIATE: 35, Level.ADVANCED: 38}
    unlevelled = [p.slug for p in catalog.projects if p.level is None]
    assert len(unlevelled) == 16
    assert {"moby", "compose", "loki", "thanos", "argo-cd", "arrow"} <= set(unlevelled)


def test_paths_keep_the_roadmaps_order(catalog: Catalog) -> None:
    assert [p.slug for p in catalog.paths] == [
        "container-ecosystem",
        "observability-stack",
        "data-infrastructure",
        "web-development",
        "cloud-native-networking",
        "infrastructure-as-code",
        "security-and-secrets",
    ]
    assert catalog.path("container-ecosystem").steps == (
        "containerd",
        "podman",
        "moby",
        "compose",
        "kubernetes",
        "helm",
    )
    assert catalog.path("Observability Stack").title == "Observability Stack"


def test_levels_keep_the_roadmaps_order(catalog: Catalog) -> None:
    beginners = [p.slug for p in catalog.level(Level.BEGINNER)]
    assert beginners[:3] == ["fzf", "starship", "gin"]
    assert beginners[-1] == "excalidraw"


def test_project_facts(catalog: Catalog) -> None:
    redis = catalog.project("redis")
    assert redis.level is Level.INTERMEDIATE
    assert redis.language == "C"
    assert redis.category == "Database"
    assert redis.report_url == "https://github.com/thxtech/ossarch/blob/main/oss/redis/README.md"
    assert redis.repository == "https://github.com/redis/redis"
    assert all(tag in catalog.concepts for p in catalog.projects for tag in p.concepts)
    assert all(p.summary.endswith(".") for p in catalog.projects)


def test_a_project_knows_its_steps(catalog: Catalog) -> None:
    [step] = catalog.paths_of("podman")
    assert (step.path.slug, step.step, step.total) == ("container-ecosystem", 2, 6)
    assert catalog.paths_of("fzf") == []


@pytest.mark.parametrize("typed", ["Next.js", "nextjs", "NEXT JS", "next-js"])
def test_find_project_ignores_case_and_punctuation(catalog: Catalog, typed: str) -> None:
    project = catalog.find_project(typed)
    assert project is not None and project.slug == "nextjs"


def test_related_projects_share_concepts(catalog: Catalog) -> None:
    etcd = catalog.project("etcd")
    for other in catalog.related("etcd"):
        assert set(other.concepts) & set(etcd.concepts)


def test_packaged_catalog_is_found() -> None:
    assert (default_catalog_dir() / "projects.toml").is_file()


# -- custom catalogs -----------------------------------------------------------------------

CONCEPTS = """
[concepts]
raft = "Raft consensus"
event-loop = "Event loop"
"""

PROJECT = """
[[projects]]
slug = "{slug}"
name = "{name}"
{level}
summary = "{summary}"
concepts = [{concepts}]
{builds_on}
repository = "{repo}"
language = "Go"
category = "Database"
report_url = "https://example.org/{slug}.md"
"""


def project(
    slug: str,
    *,
    name: str | None = None,
    level: str | None = "beginner",
    summary: str = "A thing.",
    concepts: str = '"raft"',
    repo: str = "https://github.com/x/y",
    builds_on: str = "",
) -> str:
    return PROJECT.format(
        slug=slug,
        name=name or slug.title(),
        level=f'level = "{level}"' if level else "",
        summary=summary,
        concepts=concepts,
        repo=repo,
        builds_on=f"builds_on = [{builds_on}]" if builds_on else "",
    )


def write_catalog(folder: Path, projects: str, paths: str, concepts: str = CONCEPTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "concepts.toml").write_text(concepts)
    (folder / "projects.toml").write_text(projects)
    (folder / "paths.toml").write_text(paths)
    return folder


GOOD_PATH = """
[[paths]]
slug = "basics"
title = "Basics"
blurb = "Two steps."
steps = ["alpha", "beta"]
"""


def test_a_small_custom_catalog_loads(tmp_path: Path) -> None:
    folder = write_catalog(tmp_path, project("alpha") + project("beta", level=None), GOOD_PATH)
    catalog = load_catalog(folder)
    assert [p.slug for p in catalog.projects] == ["alpha", "beta"]
    assert catalog.project("beta").level is None
    assert catalog.paths_of("beta")[0].step == 2


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(CatalogError) as caught:
        load_catalog(folder)
    return [str(p) for p in caught.value.problems]


def test_every_problem_is_listed_with_file_and_entry(tmp_path: Path) -> None:
    projects = (
        project("alpha")
        + project("alpha", name="Alpha again")
        + project("gamma", level="expert")
        + project("delta", repo="not a url")
        + project("eps", summary="  ")
        + project("zeta", concepts='"rafts"')
    )
    paths = GOOD_PATH.replace('"beta"', '"betta"')
    problems = problems_of(write_catalog(tmp_path, projects, paths))
    joined = "\n".join(problems)
    assert (
        "projects.toml: projects[2] ('alpha'): duplicate slug, first used by projects[1]" in joined
    )
    assert "projects.toml: projects[3] ('gamma'): level: unknown level 'expert'" in joined
    assert (
        "projects.toml: projects[4] ('delta'): repository: 'not a url' is not an http(s) URL"
        in joined
    )
    assert "projects.toml: projects[5] ('eps'): summary: must not be empty" in joined
    assert (
        "projects.toml: projects[6] ('zeta'): unknown concept tag 'rafts' (did you mean 'raft'?)"
        in joined
    )
    assert "paths.toml: paths[1] ('basics'): step 2 names no project: 'betta'" in joined
    assert len(problems) == 6


def test_missing_and_broken_files_are_problems_too(tmp_path: Path) -> None:
    folder = write_catalog(tmp_path, "[[projects]\nslug = ", GOOD_PATH)
    (folder / "concepts.toml").unlink()
    joined = "\n".join(problems_of(folder))
    assert "concepts.toml: file is missing" in joined
    assert "projects.toml: not valid TOML" in joined


def test_missing_fields_and_unknown_fields(tmp_path: Path) -> None:
    projects = '[[projects]]\nslug = "alpha"\nname = "Alpha"\ncolour = "red"\n'
    joined = "\n".join(problems_of(write_catalog(tmp_path, projects, GOOD_PATH)))
    assert "projects[1] ('alpha'): summary: is required" in joined
    assert "projects[1] ('alpha'): colour: is not a known field" in joined


def test_a_copy_of_the_shipped_catalog_is_valid(tmp_path: Path) -> None:
    copy = tmp_path / "mine"
    shutil.copytree(default_catalog_dir(), copy)
    assert len(load_catalog(copy).projects) == 100


# -- builds_on and step lines ----------------------------------------------------------------


def test_builds_on_follows_the_roadmap(catalog: Catalog) -> None:
    expected = {
        "coredns": ("caddy",),
        "cortex": ("prometheus",),
        "thanos": ("prometheus",),
        "loki": ("prometheus",),
        "istio": ("envoy",),
        "moby": ("containerd",),
        "tidb": ("tikv",),
        "nextjs": ("react",),
        "opentofu": ("terraform",),
    }
    for slug, foundations in expected.items():
        assert catalog.project(slug).builds_on == foundations
    assert catalog.project("fzf").builds_on == ()
    assert [p.slug for p in catalog.foundations("kubernetes")] == ["containerd", "etcd"]
    assert [p.slug for p in catalog.foundations("kubernetes", among={"etcd"})] == ["etcd"]


def test_a_step_knows_its_line_and_what_it_builds_on_earlier(catalog: Catalog) -> None:
    [step] = catalog.paths_of("thanos")
    assert step.slug == "thanos" and step.earlier[0] == "prometheus"
    assert step.line == catalog.path("observability-stack").lines[4]
    assert [p.name for p in catalog.step_foundations(step)] == ["Prometheus"]
    [first] = catalog.paths_of("containerd")
    assert catalog.step_foundations(first) == []


def test_fixed_facts_and_report_names(catalog: Catalog) -> None:
    assert "erasure-coding" not in catalog.project("cortex").concepts
    assert "connection-pooling" in catalog.project("vitess").concepts
    assert "memory-management" not in catalog.project("vitess").concepts
    assert "radix-tree" in catalog.project("hugo").concepts
    assert "React" in catalog.project("remix").summary  # as in "drops React"
    assert "server-side-rendering" not in catalog.project("remix").concepts
    assert "inside one cluster" in catalog.project("nats-server").summary
    names = {p.slug: p.name for p in catalog.projects}
    assert names["vault"] == "HashiCorp Vault"
    assert names["loki"] == "Grafana Loki"
    assert names["flux2"] == "Flux CD"
    assert names["linkerd2"] == "Linkerd2"
    assert catalog.find_project("loki") is catalog.find_project("Grafana Loki")


def test_concept_labels_keep_their_own_casing(catalog: Catalog) -> None:
    assert catalog.concept_label("raft") == "Raft consensus"
    assert catalog.concept_label("gitops") == "GitOps"
    assert catalog.concept_label("bundler") == "JavaScript bundling"
    assert catalog.concept_label("webassembly") == "WebAssembly"
    assert catalog.concept_label("event-loop") == "event loop and async I/O"


def test_builds_on_names_known_projects_and_never_loops(tmp_path: Path) -> None:
    projects = (
        project("alpha", builds_on='"gamma"')
        + project("beta", builds_on='"alpha"')
        + project("gamma", builds_on='"beta"')
        + project("delta", builds_on='"alpah", "delta"')
    )
    paths = GOOD_PATH.replace("steps = [", 'lines = ["only one"]\nsteps = [')
    problems = problems_of(write_catalog(tmp_path, projects, paths))
    loop = "builds_on goes round in a circle: 'alpha' -> 'gamma' -> 'beta' -> 'alpha'"
    assert problems == [
        "projects.toml: projects[4] ('delta'): builds_on names no project: 'alpah'"
        " (did you mean 'alpha'?)",
        "projects.toml: projects[4] ('delta'): builds_on names the project itself",
        f"projects.toml: projects[1] ('alpha'): {loop}",
        f"projects.toml: projects[2] ('beta'): {loop}",
        f"projects.toml: projects[3] ('gamma'): {loop}",
        "paths.toml: paths[1] ('basics'): lines: 1 line(s) for 2 step(s); give one per step",
    ]


@settings(deadline=None)  # Hypothesis' 200 ms an example is a timing check a busy machine fails
@given(st.from_regex(_PLAIN_URL, fullmatch=True))
def test_a_url_taken_without_pydantic_is_one_pydantic_takes(url: str) -> None:
    # Plain catalog URLs skip building pydantic's HttpUrl validator: they must be ones it
    # accepts, or a catalog would load here that pydantic would have refused.
    assert TypeAdapter(HttpUrl).validate_python(url).scheme in ("http", "https")


@pytest.mark.parametrize(
    ("repo", "accepted"),
    [
        ("https://github.com/x/y", True),
        ("https://git.example.org:8443/x/y?tab=readme#top", True),  # judged by pydantic
        ("http://localhost/x", True),
        ("ftp://example.org/x", False),
        ("https://", False),
        ("github.com/x/y", False),
    ],
)
def test_repository_urls_are_judged_as_before(tmp_path: Path, repo: str, accepted: bool) -> None:
    folder = write_catalog(tmp_path, project("alpha", repo=repo) + project("beta"), GOOD_PATH)
    if accepted:
        assert load_catalog(folder).project("alpha").repository == repo
    else:
        assert problems_of(folder) == [
            f"projects.toml: projects[1] ('alpha'): repository: {repo!r} is not an http(s) URL"
        ]
