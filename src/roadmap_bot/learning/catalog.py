"""The roadmap as data: projects, levels, learning paths and the concept vocabulary.

A catalog is a directory with three TOML files (see README, "Writing your own catalog"):
``concepts.toml``, ``projects.toml`` and ``paths.toml``. Loading validates everything and
reports *every* problem at once, each with its file and entry, so a team fixing a custom
catalog sees the whole list rather than one error per run.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, HttpUrl, TypeAdapter, ValidationError, field_validator

from roadmap_bot.learning.suggest import close_matches
from roadmap_bot.learning.text import normalize_name

SLUG_RE = re.compile(r"^[a-z0-9]+(?:[-.][a-z0-9]+)*$")
TAG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A URL of this plain shape (a DNS name, a path of unreserved characters) is one that
# pydantic's HttpUrl accepts; anything else is judged by HttpUrl itself. Building that
# validator costs more than checking a whole catalog of plain URLs.
_PLAIN_URL = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?:/[A-Za-z0-9._~/-]*)?"
)
_PLAIN_URL_MAX = 2083  # HttpUrl's own length limit
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

CONCEPTS_FILE = "concepts.toml"
PROJECTS_FILE = "projects.toml"
PATHS_FILE = "paths.toml"


class Level(StrEnum):
    """The roadmap's three levels, in the order a learner climbs them."""

    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"

    @property
    def rank(self) -> int:
        return _LEVEL_RANKS[self]

    def up(self) -> Level | None:
        """The next level up, or None at the top."""
        levels = list(Level)
        return levels[self.rank + 1] if self.rank + 1 < len(levels) else None


_LEVEL_RANKS = {level: rank for rank, level in enumerate(Level)}  # rank sorts hot loops


@cache
def _http_url() -> TypeAdapter[HttpUrl]:
    return TypeAdapter(HttpUrl)


def _check_url(value: str) -> str:
    if len(value) <= _PLAIN_URL_MAX and _PLAIN_URL.fullmatch(value):
        return value
    try:
        url = _http_url().validate_python(value)
    except ValidationError:
        raise ValueError(f"{value!r} is not an http(s) URL") from None
    if url.scheme not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class Project(BaseModel):
    """One project of the roadmap and its architecture report."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    slug: str
    name: str
    level: Level | None = None
    summary: str
    concepts: tuple[str, ...]
    repository: str
    language: str
    category: str
    report_url: str
    # Projects this one extends, forks, wraps or is best read after (slugs).
    builds_on: tuple[str, ...] = ()

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG_RE.match(value):
            raise ValueError(f"{value!r} is not a slug (lowercase letters, digits, '-' or '.')")
        return value

    @field_validator("name", "summary", "language", "category")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        if isinstance(value, str) and value.lower() not in {lv.value for lv in Level}:
            known = ", ".join(lv.value for lv in Level)
            raise ValueError(f"unknown level {value!r} (known: {known}; omit it for none)")
        return value.lower() if isinstance(value, str) else value

    @field_validator("concepts")
    @classmethod
    def _concepts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one concept tag")
        return value

    @field_validator("repository", "report_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("builds_on")
    @classmethod
    def _builds_on(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("names a project twice")
        return value

    @property
    def level_label(self) -> str:
        return self.level.value if self.level else "path only"


class LearningPath(BaseModel):
    """A themed sequence of projects that build on each other."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    slug: str
    title: str
    blurb: str
    steps: tuple[str, ...]
    # One line per step: what that step adds over the ones before it.
    lines: tuple[str, ...] = ()

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not TAG_RE.match(value):
            raise ValueError(f"{value!r} is not a slug (lowercase letters, digits and '-')")
        return value

    @field_validator("title", "blurb")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a path needs at least one step")
        return value

    @field_validator("lines")
    @classmethod
    def _lines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not line.strip() for line in value):
            raise ValueError("a step line must not be empty")
        return tuple(line.strip() for line in value)


@dataclass(frozen=True)
class PathStep:
    """Where a project sits in a path: ``step`` is 1-based."""

    path: LearningPath
    step: int

    @property
    def total(self) -> int:
        return len(self.path.steps)

    @property
    def slug(self) -> str:
        """The project at this step."""
        return self.path.steps[self.step - 1]

    @property
    def line(self) -> str:
        """What this step adds over the earlier ones ('' when the catalog gives no lines)."""
        return self.path.lines[self.step - 1] if self.path.lines else ""

    @property
    def earlier(self) -> tuple[str, ...]:
        """The slugs of the steps before this one."""
        return self.path.steps[: self.step - 1]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalog, located by file and entry."""

    file: str
    entry: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.entry}" if self.entry else self.file
        return f"{where}: {self.message}"


class CatalogError(Exception):
    """A catalog that cannot be used; ``problems`` lists everything found."""

    def __init__(self, directory: Path, problems: list[Problem]) -> None:
        self.directory = directory
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"catalog {directory} has {len(problems)} problem(s):\n{lines}")


@dataclass
class Catalog:
    """A validated catalog with the lookups every command needs."""

    concepts: Mapping[str, str]
    projects: tuple[Project, ...]
    paths: tuple[LearningPath, ...]
    source: str = "built-in"
    # Search synonyms from concepts.toml: a word -> the other ways people write it.
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _by_slug: dict[str, Project] = field(init=False, repr=False)
    _by_name: dict[str, Project] = field(init=False, repr=False)
    _path_by_key: dict[str, LearningPath] = field(init=False, repr=False)
    _steps_of: dict[str, list[PathStep]] = field(init=False, repr=False)
    _order: dict[str, int] = field(init=False, repr=False)
    _related: dict[str, list[Project]] = field(init=False, repr=False, default_factory=dict)
    _memo: dict[Any, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._by_slug = {p.slug: p for p in self.projects}
        self._order = {p.slug: i for i, p in enumerate(self.projects)}
        self._levels: dict[Level, list[Project]] = {}
        for project in self.projects:
            if project.level is not None:
                self._levels.setdefault(project.level, []).append(project)
        self._by_name = {}
        for project in self.projects:
            for key in (project.slug, project.name):
                self._by_name.setdefault(normalize_name(key), project)
        self._path_by_key = {}
        self._steps_of = {p.slug: [] for p in self.projects}
        for path in self.paths:
            for key in (path.slug, path.title):
                self._path_by_key.setdefault(normalize_name(key), path)
            for number, slug in enumerate(path.steps, start=1):
                self._steps_of[slug].append(PathStep(path, number))

    # -- lookups ---------------------------------------------------------------------

    def project(self, slug: str) -> Project:
        return self._by_slug[slug]

    def get(self, slug: str) -> Project | None:
        return self._by_slug.get(slug)

    def find_project(self, text: str) -> Project | None:
        """A project by slug or display name, ignoring case, spaces and punctuation."""
        return self._by_slug.get(text) or self._by_name.get(normalize_name(text))

    def find_path(self, text: str) -> LearningPath | None:
        """A path by slug or title, ignoring case, spaces and punctuation."""
        return self._path_by_key.get(normalize_name(text))

    def path(self, slug: str) -> LearningPath:
        path = self._path_by_key.get(normalize_name(slug))
        if path is None:
            raise KeyError(slug)
        return path

    def level(self, level: Level) -> list[Project]:
        """Projects of a level in the roadmap's order."""
        return list(self._levels.get(level, ()))

    def level_size(self, level: Level) -> int:
        """How many projects a level has."""
        return len(self._levels.get(level, ()))

    def paths_of(self, slug: str) -> list[PathStep]:
        """Every path the project belongs to, with its step number."""
        return self._steps_of.get(slug, [])

    def foundations(self, slug: str, among: Collection[str] | None = None) -> list[Project]:
        """The projects ``slug`` builds on, in its own order; only those in ``among`` if given."""
        return [
            self._by_slug[s]
            for s in self._by_slug[slug].builds_on
            if s in self._by_slug and (among is None or s in among)
        ]

    def step_foundations(self, step: PathStep) -> list[Project]:
        """The earlier steps of its path that this step's project builds on."""
        return self.foundations(step.slug, among=step.earlier)

    def order(self, slug: str) -> int:
        """The project's position in the catalog: the deterministic tie-breaker."""
        return self._order[slug]

    def concept_label(self, tag: str) -> str:
        return self.concepts.get(tag, tag)

    def related(self, slug: str, limit: int = 5) -> list[Project]:
        """Projects sharing the most concepts with this one (ties: catalog order)."""
        ranked = self._related.get(slug)
        if ranked is None:  # the catalog never changes: rank once per project
            mine = set(self.project(slug).concepts)
            scored = [
                (len(mine.intersection(other.concepts)), self._order[other.slug], other)
                for other in self.projects
                if other.slug != slug
            ]
            scored = [s for s in scored if s[0] > 0]
            scored.sort(key=lambda s: (-s[0], s[1]))
            ranked = self._related[slug] = [s[2] for s in scored]
        return ranked[:limit]

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """Something derived from this (immutable) catalog, built once on first use."""
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._memo[key] = build()
            return value

    @cached_property
    def project_keys(self) -> list[str]:
        """Every name a user may type for a project (for did-you-mean)."""
        return sorted({p.slug for p in self.projects} | {p.name for p in self.projects})

    @cached_property
    def path_keys(self) -> list[str]:
        return sorted({p.slug for p in self.paths} | {p.title for p in self.paths})

    def __iter__(self) -> Iterator[Project]:
        return iter(self.projects)

    def __len__(self) -> int:
        return len(self.projects)


# -- loading ------------------------------------------------------------------------


def default_catalog_dir() -> Path:
    """The catalog shipped inside the wheel, or the repository's when run from source."""
    packaged = Path(str(resources.files("roadmap_bot"))) / "catalog"
    if (packaged / PROJECTS_FILE).is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "catalog"


def load_catalog(directory: Path | str | None = None) -> Catalog:
    """Load and validate a catalog directory; raise CatalogError listing every problem."""
    folder = Path(directory) if directory is not None else default_catalog_dir()
    problems: list[Problem] = []
    if not folder.is_dir():
        raise CatalogError(folder, [Problem(str(folder), "", "not a directory")])

    concepts_doc = _read_toml(folder, CONCEPTS_FILE, problems)
    projects_doc = _read_toml(folder, PROJECTS_FILE, problems)
    paths_doc = _read_toml(folder, PATHS_FILE, problems)

    concepts = _load_concepts(concepts_doc, problems)
    synonyms = _load_synonyms(concepts_doc, problems)
    projects = _load_entries(projects_doc, "projects", Project, problems, PROJECTS_FILE)
    paths = _load_entries(paths_doc, "paths", LearningPath, problems, PATHS_FILE)
    _cross_check(concepts, projects_doc, paths_doc, problems, concepts_doc is not None)

    if problems:
        raise CatalogError(folder, problems)
    return Catalog(
        concepts=concepts,
        synonyms=synonyms,
        projects=tuple(p for _, p in projects),
        paths=tuple(p for _, p in paths),
        source=str(folder),
    )


def _read_toml(folder: Path, name: str, problems: list[Problem]) -> dict[str, Any] | None:
    file = folder / name
    if not file.is_file():
        problems.append(Problem(name, "", "file is missing"))
        return None
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        problems.append(Problem(name, "", "file is not UTF-8 text"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(name, "", f"not valid TOML: {exc}"))
    return None


def _load_concepts(doc: dict[str, Any] | None, problems: list[Problem]) -> dict[str, str]:
    if doc is None:
        return {}
    table = doc.get("concepts")
    if not isinstance(table, dict):
        problems.append(Problem(CONCEPTS_FILE, "", "needs a [concepts] table of tag = label"))
        return {}
    concepts: dict[str, str] = {}
    for tag, label in table.items():
        if not TAG_RE.match(tag):
            problems.append(
                Problem(CONCEPTS_FILE, f"concept {tag!r}", "tags are lowercase words joined by '-'")
            )
        elif not isinstance(label, str) or not label.strip():
            problems.append(Problem(CONCEPTS_FILE, f"concept {tag!r}", "needs a non-empty label"))
        else:
            concepts[tag] = label.strip()
    return concepts


SYNONYM_RE = re.compile(r"^[a-z0-9][a-z0-9+#]*$")


def _load_synonyms(
    doc: dict[str, Any] | None, problems: list[Problem]
) -> dict[str, tuple[str, ...]]:
    """The optional [synonyms] table: word = ["other", "ways"], one word each, lower case.

    Search treats every word of a list as the key word ('wasm' finds WebAssembly). A word
    may sit in one list only, or a search for it would mean two things.
    """
    if doc is None or "synonyms" not in doc:
        return {}
    table = doc["synonyms"]
    if not isinstance(table, dict):
        problems.append(Problem(CONCEPTS_FILE, "", "[synonyms] must be a table of word = [words]"))
        return {}
    synonyms: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for key, others in table.items():
        where = f"synonyms {key!r}"
        if (
            not isinstance(others, list)
            or not others
            or not all(isinstance(o, str) for o in others)
        ):
            problems.append(Problem(CONCEPTS_FILE, where, "needs a non-empty list of words"))
            continue
        bad = [w for w in (key, *others) if not SYNONYM_RE.match(w)]
        if bad:
            problems.append(
                Problem(
                    CONCEPTS_FILE, where, f"not one lower-case word: {', '.join(map(repr, bad))}"
                )
            )
            continue
        for word in (key, *others):
            if word in owner and owner[word] != key:
                problems.append(
                    Problem(
                        CONCEPTS_FILE, where, f"{word!r} is already a synonym of {owner[word]!r}"
                    )
                )
            owner[word] = key
        if key in others:
            problems.append(Problem(CONCEPTS_FILE, where, "lists the word itself"))
        synonyms[key] = tuple(others)
    return synonyms


def _load_entries(
    doc: dict[str, Any] | None,
    key: str,
    model: type[M],
    problems: list[Problem],
    file: str,
) -> list[tuple[str, M]]:
    """Validate each ``[[key]]`` entry; return (entry label, model) for the valid ones."""
    if doc is None:
        return []
    raw = doc.get(key)
    if not isinstance(raw, list) or not raw:
        problems.append(Problem(file, "", f"needs at least one [[{key}]] entry"))
        return []
    entries: list[tuple[str, M]] = []
    for index, item in enumerate(raw, start=1):
        slug = item.get("slug") if isinstance(item, dict) else None
        label = f"{key}[{index}]" + (f" ({slug!r})" if isinstance(slug, str) else "")
        if not isinstance(item, dict):
            problems.append(Problem(file, label, "must be a table"))
            continue
        try:
            entries.append((label, model.model_validate(item)))
        except ValidationError as exc:
            for error in exc.errors():
                field_name = ".".join(str(part) for part in error["loc"]) or "entry"
                message = error["msg"].removeprefix("Value error, ")
                if error["type"] == "missing":
                    message = "is required"
                elif error["type"] == "extra_forbidden":
                    message = "is not a known field"
                problems.append(Problem(file, label, f"{field_name}: {message}"))
    return entries


def _raw_entries(doc: dict[str, Any] | None, key: str) -> list[tuple[str, dict[str, Any]]]:
    """Entries as written, valid or not: cross-checks look at every one of them."""
    raw = doc.get(key) if doc else None
    if not isinstance(raw, list):
        return []
    out = []
    for index, item in enumerate(raw, start=1):
        if isinstance(item, dict):
            slug = item.get("slug")
            out.append(
                (f"{key}[{index}]" + (f" ({slug!r})" if isinstance(slug, str) else ""), item)
            )
    return out


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _cross_check(
    concepts: Mapping[str, str],
    projects_doc: dict[str, Any] | None,
    paths_doc: dict[str, Any] | None,
    problems: list[Problem],
    have_concepts: bool,
) -> None:
    """Checks across entries and files: duplicates, unknown tags, steps naming no project.

    They run on the entries as written, so an entry with a bad field still counts as a
    project for the paths and still gets its tags checked: one mistake, one problem.
    """
    seen: dict[str, str] = {}
    projects = _raw_entries(projects_doc, "projects")
    for label, item in projects:
        _note_slug(seen, item, label, PROJECTS_FILE, problems)
    _check_builds_on(projects, seen, problems)
    for label, item in projects:
        if have_concepts:
            for tag in _strings(item.get("concepts")):
                if tag not in concepts:
                    hint = _did_you_mean(close_matches(tag, concepts))
                    problems.append(
                        Problem(PROJECTS_FILE, label, f"unknown concept tag {tag!r}{hint}")
                    )

    seen_paths: dict[str, str] = {}
    for label, item in _raw_entries(paths_doc, "paths"):
        _note_slug(seen_paths, item, label, PATHS_FILE, problems)
        steps = _strings(item.get("steps"))
        for number, step in enumerate(steps, start=1):
            if step not in seen:
                hint = _did_you_mean(close_matches(step, seen))
                problems.append(
                    Problem(PATHS_FILE, label, f"step {number} names no project: {step!r}{hint}")
                )
        if len(set(steps)) != len(steps):
            problems.append(Problem(PATHS_FILE, label, "a project appears twice in its steps"))
        lines = _strings(item.get("lines"))
        if lines and len(lines) != len(steps):
            problems.append(
                Problem(
                    PATHS_FILE,
                    label,
                    f"lines: {len(lines)} line(s) for {len(steps)} step(s); give one per step",
                )
            )


def _check_builds_on(
    projects: list[tuple[str, dict[str, Any]]], known: Mapping[str, str], problems: list[Problem]
) -> None:
    """builds_on names known projects, never the project itself, and never loops back."""
    edges: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for label, item in projects:
        slug = item.get("slug")
        if not isinstance(slug, str):
            continue
        labels.setdefault(slug, label)
        targets = _strings(item.get("builds_on"))
        for target in targets:
            if target == slug:
                problems.append(Problem(PROJECTS_FILE, label, "builds_on names the project itself"))
            elif target not in known:
                hint = _did_you_mean(close_matches(target, known))
                problems.append(
                    Problem(PROJECTS_FILE, label, f"builds_on names no project: {target!r}{hint}")
                )
        edges.setdefault(slug, []).extend(t for t in targets if t in known and t != slug)
    for cycle in _cycles(edges):
        loop = " -> ".join(repr(s) for s in (*cycle, cycle[0]))
        for slug in sorted(cycle, key=list(edges).index):
            problems.append(
                Problem(PROJECTS_FILE, labels[slug], f"builds_on goes round in a circle: {loop}")
            )


def _cycles(edges: Mapping[str, list[str]]) -> list[list[str]]:
    """Each cycle of the builds_on graph once, starting at its first entry in file order."""
    state: dict[str, int] = {}  # 1: on the current walk, 2: finished
    order = {slug: index for index, slug in enumerate(edges)}
    found: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        trail.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                cycle = trail[trail.index(nxt) :]
                first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                found.append(cycle[first:] + cycle[:first])
            elif nxt not in state:
                walk(nxt, trail)
        trail.pop()
        state[node] = 2

    for node in edges:
        if node not in state:
            walk(node, [])
    return found


def _note_slug(
    seen: dict[str, str], item: dict[str, Any], label: str, file: str, problems: list[Problem]
) -> None:
    """Remember an entry's slug; a slug seen before is a problem."""
    slug = item.get("slug")
    if not isinstance(slug, str):
        return
    if slug in seen:
        problems.append(Problem(file, label, f"duplicate slug, first used by {seen[slug]}"))
    else:
        seen[slug] = label


def _did_you_mean(options: Iterable[str]) -> str:
    names = list(options)
    return f" (did you mean {', '.join(repr(n) for n in names)}?)" if names else ""
