"""The store is the floor of the house: it imports nothing from the wings above it."""

from __future__ import annotations

import ast
from pathlib import Path

import roadmap_bot.store

STORE = Path(roadmap_bot.store.__file__).parent
BELOW = ("roadmap_bot.store", "roadmap_bot.weekly", "roadmap_bot.retry")  # plain, stdlib only


def test_the_store_imports_only_itself_and_plain_values() -> None:
    above = []
    for module in sorted(STORE.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            above += [
                f"{module.relative_to(STORE)}: {name}"
                for name in names
                if name.startswith("roadmap_bot") and not name.startswith(BELOW)
            ]
    assert above == []
