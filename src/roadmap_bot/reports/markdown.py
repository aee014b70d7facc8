"""Just enough Markdown to read a report's outline: headings, fences, list items, tables.

Not a Markdown renderer: it finds ATX headings outside code fences, turns inline markup
into plain text, and computes GitHub's heading anchors.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|:<>])")
_SPACES = re.compile(r"\s+")
_HIDDEN = 0xE000
_HIDDEN_CHARS = re.compile("[\ue000-\ue07f]")


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    text: str  # plain text, inline markup removed
    anchor: str  # GitHub's anchor, de-duplicated across the document
    line: int  # 0-based line number


def lines_of(text: str) -> list[str]:
    """Lines, whatever the line endings (str.splitlines also splits on form feeds)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def outside_fences(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(number, line) of every line not inside a fenced code block (mermaid included)."""
    fence: str | None = None
    for number, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            yield number, line
        elif match and _closes(match.group(1), fence, line):
            fence = None


def _closes(marker: str, fence: str, line: str) -> bool:
    """A closing fence: the same character, at least as long, and nothing else on the line."""
    return marker[0] == fence[0] and len(marker) >= len(fence) and not line.strip().strip(fence[0])


def plain(text: str) -> str:
    """Inline Markdown to plain text: code, emphasis, links, images and tags unwrapped."""
    # escaped characters hide in the private use area until the markup is gone
    out = _ESCAPE.sub(lambda m: chr(_HIDDEN + ord(m.group(1))), text)
    out = out.replace("`", "")
    out = _IMAGE.sub(r"\1", out)
    out = _LINK.sub(r"\1", out)
    out = _REF_LINK.sub(r"\1", out)
    out = _TAG.sub("", out)
    out = _STRONG.sub(r"\2", out)
    out = _EMPHASIS.sub(r"\1", out)
    out = _HIDDEN_CHARS.sub(lambda m: chr(ord(m.group(0)) - _HIDDEN), out)
    return _SPACES.sub(" ", out).strip()


def github_anchor(text: str) -> str:
    """GitHub's anchor for a heading's text: lower case, punctuation dropped, spaces to '-'."""
    kept = []
    for char in text.lower():
        if char in "-_ " or char.isalnum() or unicodedata.category(char).startswith("M"):
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def headings(lines: list[str]) -> list[Heading]:
    """Every ATX heading outside code fences, with GitHub's de-duplicated anchors."""
    seen: dict[str, int] = {}
    found = []
    for number, line in outside_fences(lines):
        match = _HEADING.match(line)
        if not match:
            continue
        text = plain(_CLOSING_HASHES.sub("", match.group(2) or ""))
        anchor = github_anchor(text)
        # GitHub numbers repeats: 'notes', 'notes-1', 'notes-2'
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.append(
            Heading(len(match.group(1)), text, f"{anchor}-{count}" if count else anchor, number)
        )
    return found


def table_cells(line: str) -> list[str] | None:
    """The cells of a Markdown table row, or None when the line is not one."""
    stripped = line.strip()
    if not stripped.startswith("|"):
        return None
    cells = re.split(r"(?<!\\)\|", stripped.strip("|"))
    return [cell.strip() for cell in cells]
